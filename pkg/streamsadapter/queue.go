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
}

func (q *outQueue) init(max int64) {
	q.max = max
	q.ready = sync.NewCond(&q.mu)
}

// push adds an entry; false when it does not fit.
func (q *outQueue) push(values map[string]any) bool {
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
	q.items = append(q.items, entry{values, size})
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

// drop removes the n oldest entries (peeked and published).
func (q *outQueue) drop(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := q.head; i < q.head+n; i++ {
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

func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.ready.Broadcast()
}
