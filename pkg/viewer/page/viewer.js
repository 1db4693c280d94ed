// sio viewer: every event of one namespace (and room) as it arrives.
//
// Events go into a ring of the last MAX; the DOM shows the ring's events
// that match the filter, so it never holds more than MAX rows. DOM updates
// are batched once per animation frame, whatever the event rate. Payloads
// are only ever set as textContent, never parsed as HTML.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const ns = normNs(params.get('ns') || '/');
  const room = (params.get('room') || '').trim();
  const token = params.get('token') || '';
  const MAX = clamp(parseInt(params.get('max'), 10) || 1000, 10, 100000);

  function normNs(s) {
    s = s.trim();
    return s.startsWith('/') ? s : '/' + s;
  }
  function clamp(n, lo, hi) {
    return Math.min(hi, Math.max(lo, n));
  }

  // The ring of the last MAX events, oldest first.
  const ring = new Array(MAX);
  let head = 0; // index of the oldest
  let len = 0;
  let seq = 0; // sequence number of the newest event
  function push(e) {
    e.seq = ++seq;
    if (len < MAX) {
      ring[(head + len) % MAX] = e;
      len++;
    } else {
      ring[head] = e;
      head = (head + 1) % MAX;
    }
  }
  function at(i) { // i-th oldest
    return ring[(head + i) % MAX];
  }
  function oldestSeq() {
    return len ? at(0).seq : seq + 1;
  }

  let total = 0; // events received
  let paused = false;
  let pausedAt = 0; // total when paused
  let pausedSeq = 0; // newest seq shown when paused
  let rendered = 0; // newest seq that has been offered to the DOM
  let rows = 0;
  let filter = '';
  let order = params.get('order') || localStorage.getItem('sio.viewer.order') || 'first';
  if (order !== 'last') order = 'first';
  let frame = 0;

  const list = $('events');
  const empty = $('empty');
  const problem = $('problem'); // why the page cannot work, when it cannot

  // --- rendering -------------------------------------------------------

  function pad(n, w) {
    return String(n).padStart(w, '0');
  }
  function fmtTime(ms) {
    const d = new Date(ms);
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3);
  }
  function replacer(_k, v) {
    if (v instanceof ArrayBuffer) return '<binary ' + v.byteLength + ' bytes>';
    if (ArrayBuffer.isView(v)) return '<binary ' + v.byteLength + ' bytes>';
    return v;
  }
  function value(e) {
    return e.args.length === 1 ? e.args[0] : e.args;
  }
  // compact is the payload as one line of text: a string as is, anything
  // else as compact JSON. Cached: the filter reads it too.
  function compact(e) {
    if (e.compact === undefined) {
      const v = value(e);
      if (e.args.length === 0) e.compact = '';
      else if (typeof v === 'string') e.compact = v;
      else {
        try {
          e.compact = JSON.stringify(v, replacer);
        } catch (err) {
          e.compact = String(v);
        }
        if (e.compact === undefined) e.compact = String(v);
      }
    }
    return e.compact;
  }
  function matches(e) {
    if (!filter) return true;
    if (e.lower === undefined) e.lower = (e.name + '\n' + compact(e)).toLowerCase();
    return e.lower.includes(filter);
  }

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function row(e) {
    const li = el('li', e.sent ? 'ev sent' : 'ev');
    li.dataset.seq = e.seq;
    li.appendChild(el('time', 't', fmtTime(e.t)));
    li.appendChild(el('span', 'ns', ns + (room ? ' #' + room : '')));
    const name = el('span', 'name', e.name);
    if (e.sent) name.appendChild(el('span', 'tag', 'sent'));
    li.appendChild(name);
    li.appendChild(data(e));
    rowEvent.set(li, e);
    return li;
  }

  // Long payloads and objects show one line that opens, on a click, into
  // the whole text (pretty JSON for objects and arrays), built only then:
  // most rows are never opened, and a short row is cheap to lay out at
  // thousands per second. One listener on the list serves every row.
  const PREVIEW = 200;
  const rowEvent = new WeakMap();
  function data(e) {
    if (e.args.length === 0) return el('div', 'data none', '(no data)');
    const v = value(e);
    const text = compact(e);
    const isObj = v !== null && typeof v === 'object';
    const kind = typeof v === 'string' ? 'data str' : 'data json';
    if (!isObj && text.length <= PREVIEW && !text.includes('\n')) return el('div', kind, text);
    const more = el('div', kind + ' more', text.length > PREVIEW ? text.slice(0, PREVIEW) + '…' : text);
    more.tabIndex = 0;
    more.setAttribute('role', 'button');
    more.setAttribute('aria-expanded', 'false');
    return more;
  }
  function toggle(more) {
    const e = rowEvent.get(more.parentNode);
    if (!e) return;
    const open = more.getAttribute('aria-expanded') !== 'true';
    let text = compact(e);
    if (open) {
      const v = value(e);
      if (v !== null && typeof v === 'object') {
        try {
          text = JSON.stringify(v, replacer, 2);
        } catch (err) { /* keep the compact text */ }
      }
    } else if (text.length > PREVIEW) {
      text = text.slice(0, PREVIEW) + '…';
    }
    more.textContent = text;
    more.setAttribute('aria-expanded', String(open));
  }
  list.addEventListener('click', function (ev) {
    const more = ev.target.closest && ev.target.closest('.more');
    if (more && !String(window.getSelection())) toggle(more);
  });
  list.addEventListener('keydown', function (ev) {
    if ((ev.key === 'Enter' || ev.key === ' ') && ev.target.classList.contains('more')) {
      ev.preventDefault();
      toggle(ev.target);
    }
  });

  function nearBottom() {
    const s = document.scrollingElement;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 40;
  }

  // flush shows the events that arrived since the last frame and drops
  // the rows of events that fell out of the ring.
  function flush() {
    frame = 0;
    lastFlush = performance.now();
    // Paused: the list shows nothing newer than the pause (a filter or
    // clear still applies), and keeps its rows while the user reads.
    const upto = paused ? pausedSeq : seq;
    const stick = order === 'last' && nearBottom();
    // Events not yet offered that are still in the ring, oldest first.
    // Sequence numbers in the ring are contiguous.
    const base = oldestSeq();
    const first = Math.max(rendered + 1, base);
    if (first <= upto) {
      const frag = document.createDocumentFragment();
      const from = first - base;
      const to = upto - base;
      if (order === 'first') {
        for (let i = to; i >= from; i--) {
          const e = at(i);
          if (matches(e)) frag.appendChild(row(e));
        }
        rows += frag.childNodes.length;
        list.prepend(frag);
      } else {
        for (let i = from; i <= to; i++) {
          const e = at(i);
          if (matches(e)) frag.appendChild(row(e));
        }
        rows += frag.childNodes.length;
        list.append(frag);
      }
    }
    rendered = Math.max(rendered, upto);
    if (!paused) trim();
    if (stick) window.scrollTo(0, document.scrollingElement.scrollHeight);
    stats();
  }

  function trim() {
    const min = oldestSeq();
    for (;;) {
      const old = order === 'first' ? list.lastElementChild : list.firstElementChild;
      if (!old || Number(old.dataset.seq) >= min) break;
      old.remove();
      rows--;
    }
  }

  // rerender rebuilds the list from the ring (filter, order, resume).
  function rerender() {
    list.textContent = '';
    rows = 0;
    rendered = 0;
    flush();
  }

  // At most one DOM update per frame, and at most one per MIN_GAP ms: at
  // thousands of events per second each update adds many rows at once.
  const MIN_GAP = 50;
  let lastFlush = 0;
  let timer = 0;
  function schedule() {
    if (frame || timer) return;
    const wait = lastFlush + MIN_GAP - performance.now();
    if (wait > 0) {
      timer = setTimeout(function () {
        timer = 0;
        frame = requestAnimationFrame(flush);
      }, wait);
    } else {
      frame = requestAnimationFrame(flush);
    }
  }

  // --- counters --------------------------------------------------------

  const nTotal = $('n-total');
  const nShown = $('n-shown');
  const nRate = $('n-rate');
  const nPaused = $('n-paused');
  $('n-max').textContent = String(MAX);
  let lastTotal = 0;
  let lastTime = performance.now();
  setInterval(function () {
    const now = performance.now();
    const rate = (total - lastTotal) * 1000 / (now - lastTime);
    lastTotal = total;
    lastTime = now;
    nRate.textContent = rate >= 100 ? String(Math.round(rate)) : String(Math.round(rate * 10) / 10);
    stats();
  }, 1000);

  function stats() {
    nTotal.textContent = String(total);
    nShown.textContent = String(rows);
    empty.hidden = len > 0 || rows > 0 || !problem.hidden;
    if (paused) {
      nPaused.hidden = false;
      nPaused.textContent = 'paused, ' + (total - pausedAt) + ' new';
    } else {
      nPaused.hidden = true;
    }
  }

  // --- connection ------------------------------------------------------

  // Without the client script there is nothing to connect with: say why
  // on the page, not only in the console. A sio-serve built without the
  // official client answers its path with a 503 whose text says what to
  // do; that text is shown as it is.
  const CLIENT = '/socket.io/socket.io.min.js';
  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = false;
    stats();
  }
  function explainNoClient() {
    fetch(CLIENT, { cache: 'no-store' }).then(function (r) {
      return r.text().then(function (text) {
        if (r.status === 503) return text.trim();
        if (!r.ok) return 'The Socket.IO client ' + CLIENT + ' did not load: HTTP ' + r.status + '.';
        return 'The Socket.IO client ' + CLIENT + ' loaded but did not run (see the browser console).';
      });
    }, function (err) {
      return 'The Socket.IO client ' + CLIENT + ' did not load: ' + err.message;
    }).then(showProblem);
  }

  const conn = $('conn');
  const connText = $('conn-text');
  function state(s, text) {
    conn.dataset.state = s;
    connText.textContent = text;
  }
  const where = ns + (room ? ' room ' + room : '');
  // The empty list says how to publish here.
  const url = location.origin + (ns === '/' ? '' : ns);
  empty.lastElementChild.textContent = 'seq 3 | sio-pub -e demo --url ' + url + (room ? ' --room ' + room : '');
  $('ns').value = ns;
  $('room').value = room;

  if (typeof io !== 'function') {
    state('disconnected', 'no Socket.IO client (' + CLIENT + ')');
    explainNoClient();
    return;
  }
  const auth = {};
  if (room) auth.room = room;
  if (token) auth.token = token;
  // A websocket first: sio-serve serves such a session itself, in about
  // 10 KB, where a session that starts on long-polling and upgrades is the
  // library's (about 60 KB), which counts with thousands of viewers.
  // Where no websocket gets through (a proxy), long-polling.
  const socket = io(ns, { auth: auth, transports: ['websocket', 'polling'], tryAllTransports: true });
  state('connecting', 'connecting to ' + where);
  socket.on('connect', function () {
    state('connected', 'connected: ' + where);
  });
  socket.on('disconnect', function (reason) {
    state('disconnected', 'disconnected (' + reason + ')');
  });
  socket.on('connect_error', function (err) {
    const msg = err && err.message ? err.message : String(err);
    state('disconnected', 'cannot connect: ' + msg);
    // A server started with --token refuses without it: ask for it, once
    // per refusal, and try again with it.
    if (msg === 'unauthorized' && !socket.active) {
      const t = window.prompt('This sio-serve needs a token (sio-serve --token):', '');
      if (t) {
        auth.token = t;
        socket.auth = auth;
        socket.connect();
      }
    }
  });
  // For the console and tests: the socket, and counters.
  window.sioViewer = { socket: socket, stats: function () { return { total: total, rows: rows, max: MAX }; } };
  socket.io.on('reconnect_attempt', function (n) {
    state('connecting', 'reconnecting to ' + where + ' (attempt ' + n + ')');
  });
  socket.onAny(function (name) {
    const args = Array.prototype.slice.call(arguments, 1);
    // With connection state recovery the server appends an offset.
    if (socket._pid && args.length && typeof args[args.length - 1] === 'string') args.pop();
    total++;
    push({ t: Date.now(), name: String(name), args: args });
    schedule();
  });

  // --- controls --------------------------------------------------------

  const filterBox = $('filter');
  filterBox.value = params.get('filter') || '';
  filter = filterBox.value.trim().toLowerCase();
  let filterTimer = 0;
  filterBox.addEventListener('input', function () {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(function () {
      const f = filterBox.value.trim().toLowerCase();
      if (f !== filter) {
        filter = f;
        rerender();
      }
    }, 120);
  });

  const orderSel = $('order');
  orderSel.value = order;
  orderSel.addEventListener('change', function () {
    order = orderSel.value;
    try {
      localStorage.setItem('sio.viewer.order', order);
    } catch (err) { /* private mode */ }
    rerender();
    if (order === 'last') window.scrollTo(0, document.scrollingElement.scrollHeight);
    else window.scrollTo(0, 0);
  });

  const pauseBtn = $('pause');
  pauseBtn.addEventListener('click', function () {
    paused = !paused;
    pauseBtn.textContent = paused ? 'Resume' : 'Pause';
    pauseBtn.setAttribute('aria-pressed', String(paused));
    if (paused) {
      pausedAt = total;
      pausedSeq = seq;
    }
    schedule();
  });

  $('clear').addEventListener('click', function () {
    head = 0;
    len = 0;
    ring.fill(undefined);
    rerender();
  });

  $('where').addEventListener('submit', function (ev) {
    ev.preventDefault();
    const p = new URLSearchParams(location.search);
    p.set('ns', normNs($('ns').value || '/'));
    const r = $('room').value.trim();
    if (r) p.set('room', r);
    else p.delete('room');
    location.search = p.toString();
  });

  // Ctrl+Enter (or Cmd+Enter) in the payload sends, as the button does.
  $('emit-data').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      $('emit').requestSubmit();
    }
  });

  const emitMsg = $('emit-msg');
  $('emit').addEventListener('submit', function (ev) {
    ev.preventDefault();
    const name = $('emit-name').value.trim();
    const raw = $('emit-data').value;
    const as = $('emit-as').value;
    emitMsg.className = 'emit-msg';
    if (!name) return;
    let args = [];
    if (raw !== '') {
      if (as === 'text') {
        args = [raw];
      } else {
        try {
          args = [JSON.parse(raw)];
        } catch (err) {
          if (as === 'json') {
            emitMsg.className = 'emit-msg err';
            emitMsg.textContent = 'invalid JSON: ' + err.message;
            return;
          }
          args = [raw];
        }
      }
    }
    try {
      socket.emit.apply(socket, [name].concat(args));
    } catch (err) {
      emitMsg.className = 'emit-msg err';
      emitMsg.textContent = err.message;
      return;
    }
    emitMsg.textContent = socket.connected ? 'sent' : 'queued until connected';
    // The relay does not echo an event to its sender: show it here.
    push({ t: Date.now(), name: name, args: args, sent: true });
    schedule();
  });

  stats();
})();
