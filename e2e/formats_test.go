package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A bad line stops sio-pub with exit 65 naming it, after every line before
// it was delivered; nothing after it is sent.
func TestPubBadInputIsExit65AfterTheLinesBefore(t *testing.T) {
	srv := serve(t, "-q")
	tests := []struct {
		name   string
		args   []string
		input  string
		before []string // what sio-sub prints: the lines before the bad one
		msg    string   // the error line
	}{
		{"invalid json", []string{"-f", "json"}, "1\n\"two\"\n{\"a\":\n4\n", []string{"1", "two"},
			"sio-pub: line 3: invalid JSON: unexpected end of input"},
		{"json with trailing garbage", []string{"-f", "json"}, "{\"a\":1}\n{\"a\":1} x\n", []string{`{"a":1}`},
			"sio-pub: line 2: invalid JSON: trailing data at byte 9"},
		{"empty json line", []string{"-f", "json"}, "1\n\n2\n", []string{"1"},
			"sio-pub: line 2: invalid JSON: empty line"},
		{"envelope without event", []string{"-f", "envelope"}, "{\"event\":\"e\",\"data\":1}\n{\"data\":2}\n", []string{"1"},
			`sio-pub: line 2: invalid envelope: no "event"`},
		{"not utf-8", nil, "ok\nbad \xff\xfe\nnever\n", []string{"ok"},
			"sio-pub: line 2: not valid UTF-8"},
		// -e message: the event is the line plus 16 bytes: 4 2["message","LINE"]
		{"one byte over --max-bytes", []string{"--max-bytes", "40"},
			strings.Repeat("a", 24) + "\n" + strings.Repeat("b", 25) + "\n", []string{strings.Repeat("a", 24)},
			"sio-pub: line 2: event is 41 bytes as sent, over --max-bytes 40"},
		{"line far over --max-bytes", []string{"--max-bytes", "40"},
			"fits\n" + strings.Repeat("c", 5000) + "\nnever\n", []string{"fits"},
			"sio-pub: line 2: event is 5016 bytes as sent, over --max-bytes 40"},
		{"line too long to read", []string{"--max-bytes", "40"},
			"fits\n" + strings.Repeat("c", 70000) + "\nnever\n", []string{"fits"},
			"sio-pub: line 2: line too long (over 65616 bytes)"},
		// The envelope's keys make the line longer than the event: it is
		// the event as sent that must fit (46 bytes; the line is 59).
		{"envelope line longer than its event", []string{"-f", "envelope", "--max-bytes", "46"},
			`{"event":"e","data":"` + strings.Repeat("d", 36) + `"}` + "\n" +
				`{"event":"e","data":"` + strings.Repeat("d", 37) + `"}` + "\n",
			[]string{strings.Repeat("d", 36)},
			"sio-pub: line 2: event is 47 bytes as sent, over --max-bytes 46"},
		{"envelope with a reserved name", []string{"-f", "envelope"},
			"{\"event\":\"e\",\"data\":1}\n{\"event\":\"error\",\"data\":2}\n", []string{"1"},
			`sio-pub: line 2: event name "error" is reserved by Socket.IO: no server delivers it`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := fmt.Sprintf("event%02d", i) // as long as "message"
			if tt.args != nil && tt.args[0] == "-f" && tt.args[1] == "envelope" {
				ev = "e"
			}
			sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-e", ev)
			srv.waitClients(t, 1)
			args := append([]string{"--url", srv.URL, "-e", ev}, tt.args...)
			code, _, stderr := runCmd(t, []byte(tt.input), time.Minute, "sio-pub", args...)
			if code != 65 {
				t.Errorf("exit %d, want 65; stderr %q", code, stderr)
			}
			if strings.TrimSuffix(stderr, "\n") != tt.msg {
				t.Errorf("stderr %q\n      want %q", stderr, tt.msg+"\n")
			}
			// Delivered before the exit: sio-sub has them (and nothing else
			// arrives once a confirmed flush is through).
			got := sub.stdout.waitLines(t, len(tt.before), 20*time.Second)
			if strings.Join(got, "\n") != strings.Join(tt.before, "\n") {
				t.Errorf("sio-sub printed %q, want %q", got, tt.before)
			}
			sub.signal(interrupt)
			sub.wait(5 * time.Second)
			if got := sub.stdout.Lines(); len(got) != len(tt.before) {
				t.Errorf("sio-sub printed %q after the bad line", got)
			}
		})
	}
}

// A line within --max-bytes but over the server's own limit (its
// maxPayload, said in its handshake) is refused before it is sent, as one
// over --max-bytes: sent, it made the server close the connection, and
// the lines after it were lost.
func TestPubRefusesWhatTheServerWouldNot(t *testing.T) {
	srv := serve(t, "-q", "--max-bytes", "100")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-e", "big")
	srv.waitClients(t, 1)
	in := "small\n" + strings.Repeat("x", 100) + "\nnever\n"
	code, _, stderr := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", srv.URL, "-e", "big")
	if code != 65 {
		t.Errorf("exit %d, want 65; stderr %q", code, stderr)
	}
	if want := "sio-pub: line 2: event is 112 bytes as sent, over the server's limit 100 (its maxPayload)\n"; stderr != want {
		t.Errorf("stderr %q\n      want %q", stderr, want)
	}
	if got := sub.stdout.waitLines(t, 1, 20*time.Second); got[0] != "small" {
		t.Errorf("sio-sub printed %q, want small", got)
	}
}

// --skip-invalid reports each bad line and sends the rest, then exits 65.
func TestPubSkipInvalid(t *testing.T) {
	srv := serve(t, "-q")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-f", "json")
	srv.waitClients(t, 1)
	code, _, stderr := runCmd(t, []byte("1\nnope\n[2]\n{\n\"3\"\n"), time.Minute, "sio-pub", "--url", srv.URL, "-f", "json", "--skip-invalid")
	if code != 65 {
		t.Errorf("exit %d, want 65", code)
	}
	want := "sio-pub: line 2: invalid JSON: invalid character 'o' in literal null (expecting 'u') at byte 2\n" +
		"sio-pub: line 4: invalid JSON: unexpected end of input\n" +
		"sio-pub: 2 invalid line(s) skipped, the first: line 2: invalid JSON: invalid character 'o' in literal null (expecting 'u') at byte 2\n"
	if stderr != want {
		t.Errorf("stderr\n%s\nwant\n%s", stderr, want)
	}
	if got := sub.stdout.waitLines(t, 3, 20*time.Second); strings.Join(got, " ") != `1 [2] "3"` {
		t.Errorf("delivered %q", got)
	}
}

// Text lines: CRLF and LF endings, an empty line, a last line without a
// newline, and lines that look like JSON all arrive as the same strings.
func TestPubTextLines(t *testing.T) {
	srv := serve(t, "-q")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-f", "json")
	srv.waitClients(t, 1)
	in := "crlf\r\n\nspaces  \r\n{\"a\":1}\n42\nnull\nlast"
	if code, _, stderr := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", srv.URL); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{`"crlf"`, `""`, `"spaces  "`, `"{\"a\":1}"`, `"42"`, `"null"`, `"last"`}
	if got := sub.stdout.waitLines(t, len(want), 20*time.Second); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// JSON lines arrive as values; -v prefixes the name; printed JSON keeps
// <>& and non-ASCII as they are.
func TestJSONFormats(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(fmt.Sprintf("ack=%v", ack), func(t *testing.T) {
			srv := serve(t, "-q")
			sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-f", "json", "-v")
			env := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-f", "envelope")
			srv.waitClients(t, 2)
			in := `{"b":[1,2.5,null,true],"a":"<é & 😀>"}` + "\n42\n\"s\"\n" +
				`{"id":12345678901234567890,"z":1,"a":2,"f":1.0}` + "\n"
			args := []string{"--url", srv.URL, "-f", "json", "-e", "item"}
			if ack {
				args = append(args, "--ack")
			}
			if code, _, stderr := runCmd(t, []byte(in), time.Minute, "sio-pub", args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			// Exactly as sent, with --ack too (key order, number spelling,
			// big integers): the relay passes events on as they are, and
			// sio-sub prints JSON as it came, so a bridge is byte-exact.
			want := []string{`item {"b":[1,2.5,null,true],"a":"<é & 😀>"}`, `item 42`, `item "s"`,
				`item {"id":12345678901234567890,"z":1,"a":2,"f":1.0}`}
			if got := sub.stdout.waitLines(t, 4, 20*time.Second); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("-f json -v:\n got %q\nwant %q", got, want)
			}
			wantEnv := []string{`{"event":"item","data":{"b":[1,2.5,null,true],"a":"<é & 😀>"}}`, `{"event":"item","data":42}`,
				`{"event":"item","data":"s"}`, `{"event":"item","data":{"id":12345678901234567890,"z":1,"a":2,"f":1.0}}`}
			if got := env.stdout.waitLines(t, 4, 20*time.Second); strings.Join(got, "\n") != strings.Join(wantEnv, "\n") {
				t.Errorf("-f envelope:\n got %q\nwant %q", got, wantEnv)
			}
		})
	}
}

// Rooms: sio-pub --room r1 reaches only members of r1; sio-sub --room
// r1,r2 hears both rooms and the namespace-wide events.
func TestRooms(t *testing.T) {
	srv := serve(t, "-q")
	r1 := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "--room", "r1", "-v")
	r12 := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "--room", "r1,r2", "-v")
	r2 := start(t, procOpts{}, "sio-sub", "--url", srv.URL+"?room=r2", "-v")
	none := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-v")
	srv.waitClients(t, 4)
	pub := func(ev string, args ...string) {
		t.Helper()
		args = append([]string{"--url", srv.URL, "-e", ev}, args...)
		if code, _, stderr := runCmd(t, []byte(ev+"\n"), time.Minute, "sio-pub", args...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	pub("to-r1", "--room", "r1")
	pub("to-r2", "-r", "r2")
	pub("to-all")
	want := map[*proc][]string{
		r1:   {"to-r1 to-r1", "to-all to-all"},
		r12:  {"to-r1 to-r1", "to-r2 to-r2", "to-all to-all"},
		r2:   {"to-r2 to-r2", "to-all to-all"},
		none: {"to-all to-all"},
	}
	for p, w := range want {
		got := p.stdout.waitLines(t, len(w), 20*time.Second)
		if strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("%v: got %q, want %q", p.cmd.Args[1:], got, w)
		}
	}
	// Nothing more arrives: a last namespace-wide event is the next line.
	pub("end")
	for p, w := range want {
		got := p.stdout.waitLines(t, len(w)+1, 20*time.Second)
		if got[len(w)] != "end end" {
			t.Errorf("%v: extra line %q", p.cmd.Args[1:], got[len(w)])
		}
	}
}

// sio-sub -f envelope --url A | sio-pub -f envelope --url B carries events
// of several names, with several arguments, and a sio-sub on B prints
// exactly what the one on A printed, in order.
func TestBridgeKeepsEverything(t *testing.T) {
	a, b := serve(t, "-q"), serve(t, "-q")
	onA := start(t, procOpts{}, "sio-sub", "--url", a.URL, "-f", "envelope")
	onB := start(t, procOpts{}, "sio-sub", "--url", b.URL, "-f", "envelope")
	startBridge(t, a.URL, b.URL)
	a.waitClients(t, 2)
	b.waitClients(t, 2)

	in := strings.Join([]string{
		`{"event":"one","data":"text with \"quotes\" and\nnewline"}`,
		`{"event":"two","args":[1,"b",{"k":[true,null]},{"$binary":"AAEC/w=="}]}`,
		`{"event":"three","args":[]}`,
		`{"event":"one","data":{"nested":{"bin":{"$binary":"aGk="}}}}`,
		`{"event":"four","data":null}`,
	}, "\n") + "\n"
	if code, _, stderr := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", a.URL, "-f", "envelope"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	gotA := onA.stdout.waitLines(t, 5, 20*time.Second)
	gotB := onB.stdout.waitLines(t, 5, 20*time.Second)
	if strings.Join(gotA, "\n") != strings.Join(gotB, "\n") {
		t.Errorf("B printed other lines than A:\nA: %q\nB: %q", gotA, gotB)
	}
	if len(gotA) != 5 || !strings.Contains(gotA[1], `{"$binary":"AAEC/w=="}`) {
		t.Errorf("A printed %q", gotA)
	}
}

// -m sends one event from the command line, whole (a text message may
// hold newlines), and --file reads the lines from a file.
func TestPubMessageAndFile(t *testing.T) {
	srv := serve(t, "-q")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-e", "m")
	srv.waitClients(t, 1)
	if code, _, stderr := runCmd(t, nil, time.Minute, "sio-pub", "--url", srv.URL, "-e", "m", "-m", "one\ntwo"); code != 0 {
		t.Fatalf("-m: exit %d: %s", code, stderr)
	}
	f := filepath.Join(t.TempDir(), "lines")
	if err := os.WriteFile(f, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, nil, time.Minute, "sio-pub", "--url", srv.URL, "-e", "m", "--file", f); code != 0 {
		t.Fatalf("--file: exit %d: %s", code, stderr)
	}
	if got, want := sub.stdout.waitLines(t, 3, 20*time.Second), []string{`one\ntwo`, "a", "b"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sio-sub printed %q, want %q", got, want)
	}
	code, _, stderr := runCmd(t, nil, time.Minute, "sio-pub", "--url", srv.URL, "--file", filepath.Join(t.TempDir(), "none"))
	if code != 2 || !strings.Contains(stderr, "no such file") {
		t.Errorf("--file of a missing file: exit %d, stderr %q; want 2", code, stderr)
	}
}

// A script waits for sio-sub to be subscribed (--ready-fd, sio-sub -h's
// way) and only then publishes: the event is never missed. sio-sub says
// once that it subscribed (-v: with its socket id), and --time-format
// writes the arrival time as asked.
func TestSubReadyFdAndTimeFormat(t *testing.T) {
	srv := serve(t, "-q")
	dir := t.TempDir()
	script := `set -eu
cd "$1"
mkfifo ready
sio-sub -v -C 1 -e done --url "$2" --time-format '%Y-%m-%d %H:%M:%S.%L' --ready-fd 3 3>ready >out 2>err &
read _ <ready
echo ok | sio-pub -e done --url "$2"
wait $!
cat out err`
	for i := range 5 { // with no sleep anywhere: a publish before the subscription would be lost
		out, code := runScript(t, dir, script, srv.URL, i)
		if code != 0 {
			t.Fatalf("run %d: exit %d:\n%s", i, code, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("run %d: %q, want the event and the subscribed line", i, out)
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} done ok$`).MatchString(lines[0]) {
			t.Errorf("run %d: line %q, want the local time as asked, the event name (-v) and the data", i, lines[0])
		}
		if !regexp.MustCompile(`^sio-sub: subscribed to http://\S+ as \S+$`).MatchString(lines[1]) {
			t.Errorf("run %d: stderr %q, want the subscribed line with the socket id", i, lines[1])
		}
	}
	if c, _, errOut := runCmd(t, nil, 10*time.Second, "sio-sub", "--ready-fd", "7"); c != 2 || !strings.Contains(errOut, "--ready-fd: not an open file descriptor") {
		t.Errorf("--ready-fd 7 (not open): exit %d %q, want 2 naming it", c, errOut)
	}
	if c, _, errOut := runCmd(t, nil, 10*time.Second, "sio-sub", "--time-format", "%Q"); c != 2 || !strings.Contains(errOut, "--time-format") {
		t.Errorf("--time-format %%Q: exit %d %q, want 2 naming it", c, errOut)
	}
}

// runScript runs a bash script with the binaries under test first in
// PATH, in a fresh directory of its own, and returns its output and exit
// code.
func runScript(t *testing.T, dir, script, url string, run int) (string, int) {
	t.Helper()
	d := filepath.Join(dir, strconv.Itoa(run))
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script, "bash", d, url)
	cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	return string(out), exitCode(err)
}

// sio-pub -C sends the -m message N times, or the first N lines; --rate
// spaces the events (never faster than asked: the test checks the
// lower bound only, which a busy machine cannot break).
func TestPubCountAndRate(t *testing.T) {
	srv := serve(t, "-q")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-f", "json", "-e", "m,l")
	srv.waitClients(t, 1)
	start := time.Now()
	if c, _, errOut := runCmd(t, nil, time.Minute, "sio-pub", "--url", srv.URL, "-e", "m", "-m", `"x"`, "-f", "json", "-C", "20", "--rate", "50"); c != 0 {
		t.Fatalf("-m -C 20 --rate 50: exit %d: %s", c, errOut)
	}
	if took := time.Since(start); took < 19*time.Second/50 {
		t.Errorf("20 events at 50 a second took %v: faster than asked", took)
	}
	if c, _, errOut := runCmd(t, seq(100), time.Minute, "sio-pub", "--url", srv.URL, "-e", "l", "-C", "3"); c != 0 {
		t.Fatalf("-C 3 of 100 lines: exit %d: %s", c, errOut)
	}
	got := sub.stdout.waitLines(t, 23, 20*time.Second)
	want := strings.Repeat("\"x\"\n", 20) + "\"1\"\n\"2\"\n\"3\"\n"
	if strings.Join(got, "\n")+"\n" != want {
		t.Errorf("sio-sub got %q, want the message 20 times and lines 1 to 3", got)
	}
	time.Sleep(300 * time.Millisecond)
	if n := sub.stdout.count(); n != 23 {
		t.Errorf("%d lines, want 23: -C 3 sent more than 3 lines", n)
	}
	for _, bad := range [][]string{{"-C", "-1"}, {"--rate", "-2"}, {"--rate", "x"}} {
		if c, _, errOut := runCmd(t, nil, 10*time.Second, "sio-pub", append(bad, "-m", "x")...); c != 2 || !strings.Contains(errOut, "sio-pub: ") {
			t.Errorf("sio-pub %v: exit %d %q, want 2", bad, c, errOut)
		}
	}
}
