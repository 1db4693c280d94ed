package serve

import (
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// static serves the files under a directory (sio-serve --static DIR): the
// user's own pages, as the original python setup served its index.html.
// It serves regular files and a directory's index.html, nothing else:
//   - no path outside the directory: the names are cleaned, and the files
//     are opened through an os.Root, which refuses ".." and symbolic
//     links that lead outside (links inside are followed);
//   - no directory listings, and no name with a part that starts with a
//     dot (.git, .env): 404;
//   - GET and HEAD only: 405 otherwise.
type static struct {
	fsys  fs.FS
	files http.Handler
}

// openStatic opens dir for serving; the error says why it cannot be.
func openStatic(dir string) (*static, *os.Root, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	fsys := root.FS()
	return &static{fsys: fsys, files: http.FileServerFS(fsys)}, root, nil
}

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "."
	}
	if !s.servable(name) {
		http.NotFound(w, r)
		return
	}
	s.files.ServeHTTP(w, r)
}

// servable tells whether name (cleaned, relative) is a regular file or a
// directory with an index.html, with no part that starts with a dot.
func (s *static) servable(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part != "." && strings.HasPrefix(part, ".") {
			return false
		}
	}
	fi, err := fs.Stat(s.fsys, name)
	if err != nil {
		return false // missing, or outside the directory
	}
	if fi.IsDir() {
		fi, err = fs.Stat(s.fsys, path.Join(name, "index.html"))
		if err != nil {
			return false
		}
	}
	return fi.Mode().IsRegular()
}
