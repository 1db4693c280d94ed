package streamsadapter

import "sync"

// outQueue holds the stream entries waiting to be added, in order, up to
// max bytes. The publisher looks at the oldest (peek) and drops them once
// Redis took them: while Redis is away they wait.
type outQueue struct {
	mu     sync.Mutex
	ready  *sync.Cond
	items  []entry
	head   int
	bytes  int64
	max    int64
	closed bool
}

type entry struct {
	values map[string]any
	size   int64
	added  chan string // with pushWait: gets the entry's id once added
}

func (q *outQueue) init(max int64) {
	q.max = max
	q.ready = sync.NewCond(&q.mu)
}

// push adds an entry; false when it does not fit.
func (q *outQueue) push(values map[string]any) bool { return q.add(values, nil) }

// pushWait adds an entry and waits until Redis took it: it returns the
// entry's id, or "" when it did not fit or the queue closed first.
func (q *outQueue) pushWait(values map[string]any) string {
	added := make(chan string, 1)
	if !q.add(values, added) {
		return ""
	}
	return <-added
}

func (q *outQueue) add(values map[string]any, added chan string) bool {
	var size int64 = 64
	for k, v := range values {
		s, _ := v.(string)
		size += int64(len(k) + len(s))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.bytes+size > q.max {
		return false
	}
	q.items = append(q.items, entry{values, size, added})
	q.bytes += size
	q.ready.Signal()
	return true
}

// peek waits for entries and returns up to n of the oldest, or nil once
// the queue is closed.
func (q *outQueue) peek(n int) []entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == q.head && !q.closed {
		q.ready.Wait()
	}
	if q.closed {
		return nil
	}
	end := min(q.head+n, len(q.items))
	return q.items[q.head:end:end]
}

// drop removes the n oldest entries (peeked and published), which got
// the ids ids.
func (q *outQueue) drop(n int, ids []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := q.head; i < q.head+n; i++ {
		if a := q.items[i].added; a != nil {
			a <- ids[i-q.head]
		}
		q.bytes -= q.items[i].size
		q.items[i] = entry{}
	}
	q.head += n
	if q.head == len(q.items) || q.head > 4096 && q.head > len(q.items)/2 {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
}

func (q *outQueue) size() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// close drops what waits; the waiters of pushWait get "".
func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	for _, e := range q.items[q.head:] {
		if e.added != nil {
			close(e.added)
		}
	}
	q.items, q.head = nil, 0
	q.mu.Unlock()
	q.ready.Broadcast()
}
