# sio: Socket.IO for shell pipelines.
GO      ?= go
BIN     := bin
GOFLAGS ?=

.PHONY: all assets build screenshot peers test race lint bench soak hostile demo clean

all: build

build: assets
	$(GO) build -buildvcs=auto -o $(BIN)/ ./cmd/...

# The official socket.io-client browser build that sio-serve embeds
# (pkg/viewer, go:embed): npm ci when node_modules is missing or older than
# package-lock.json, copy the files, and fail unless their banner names the
# version the lockfile pins. The copies are not committed.
CLIENT_DIST := node_modules/socket.io-client/dist
VIEWER_DIST := pkg/viewer/dist
assets:
	@if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		echo "npm ci"; npm ci --no-audit --no-fund --loglevel=error; fi
	@want=$$(node -p 'require("./package-lock.json").packages["node_modules/socket.io-client"].version') && \
	mkdir -p $(VIEWER_DIST) && \
	for f in socket.io.js socket.io.min.js socket.io.min.js.map socket.io.msgpack.min.js socket.io.msgpack.min.js.map; do \
		cmp -s $(CLIENT_DIST)/$$f $(VIEWER_DIST)/$$f || cp $(CLIENT_DIST)/$$f $(VIEWER_DIST)/$$f || exit 1; \
	done && \
	for f in socket.io.js socket.io.min.js socket.io.msgpack.min.js; do \
		got=$$(sed -n 's/^ \* Socket\.IO v\([0-9][^ ]*\)$$/\1/p' $(VIEWER_DIST)/$$f | head -1); \
		if [ "$$got" != "$$want" ]; then \
			echo "assets: $(VIEWER_DIST)/$$f is socket.io-client '$$got', package-lock.json pins '$$want'" >&2; exit 1; fi; \
	done

# The real peers the tests use (Node, python-socketio, Chromium, Redis,
# mosquitto). A peer that cannot be installed makes its tests skip, or
# fail under CI=true; the tests say which.
peers:
	-scripts/peers.sh

# The suite CI runs (.ci/run): vet, then every test with the race detector.
# The e2e tests build their own race-enabled binaries.
test: peers assets
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 18m -p 2 ./...

race: test

# staticcheck at an exact version, 2025.1.1, by its module version v0.6.1:
# the release name is resolved from the upstream repository, which a
# module proxy may not do (ours answers 403); the module version works
# everywhere. No assets: the code builds and is checked without the
# browser client.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

bench: build
	scripts/bench.sh

# The soak and fault harness (internal/cmd/sio-soak) for SOAK_DURATION
# (default 10m); arguments for it in SOAK_ARGS.
soak: build
	scripts/soak.sh $(SOAK_ARGS)

# The hostile inputs of docs/HOSTILE.md against sio-serve and the official
# Node server side by side, with honest clients listening: one table.
hostile: peers assets
	SIO_SIDE_BY_SIDE=1 $(GO) test -count=1 -run 'TestHostileSideBySide$$' -v ./e2e/ | sed -n '/^ *| /s/^ *//p'

# docs/viewer.png, the README's screenshot, from the viewer's browser test.
screenshot: assets
	SIO_SCREENSHOT=1 $(GO) test -race -count=1 -run 'TestViewer$$' ./e2e/

demo: build
	scripts/demo.sh

clean:
	rm -rf $(BIN)

# Man pages and bash, zsh and fish completions, written under $(BIN) from
# each binary's -h text (internal/cmd/sio-docs): the help text is their
# one source.
.PHONY: docs install uninstall
DOC_BINARIES := sio-pub sio-sub sio-serve
docs: build
	$(GO) run ./internal/cmd/sio-docs -o $(BIN) $(addprefix $(BIN)/,$(DOC_BINARIES))

# make install PREFIX=/usr DESTDIR=/tmp/pkg: the binaries, their man pages
# and completions, the systemd units (their /usr/local/bin/ made
# $(PREFIX)/bin/) and the example environment file.
PREFIX  ?= /usr/local
DESTDIR ?=
SYSTEMD_UNITS := $(notdir $(wildcard scripts/systemd/*.service))
bindir      = $(DESTDIR)$(PREFIX)/bin
man1dir     = $(DESTDIR)$(PREFIX)/share/man/man1
bashcompdir = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
zshcompdir  = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
fishcompdir = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
unitdir     = $(DESTDIR)$(PREFIX)/lib/systemd/system
siodocdir   = $(DESTDIR)$(PREFIX)/share/doc/sio

install: docs
	install -d $(bindir) $(man1dir) $(bashcompdir) $(zshcompdir) $(fishcompdir) $(unitdir) $(siodocdir)
	for b in $(DOC_BINARIES); do \
		install -m 755 $(BIN)/$$b $(bindir)/$$b && \
		install -m 644 $(BIN)/man/man1/$$b.1 $(man1dir)/$$b.1 && \
		install -m 644 $(BIN)/completions/bash/$$b $(bashcompdir)/$$b && \
		install -m 644 $(BIN)/completions/zsh/_$$b $(zshcompdir)/_$$b && \
		install -m 644 $(BIN)/completions/fish/$$b.fish $(fishcompdir)/$$b.fish || exit 1; \
	done
	for u in $(SYSTEMD_UNITS); do \
		sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' scripts/systemd/$$u > $(unitdir)/$$u && \
		chmod 644 $(unitdir)/$$u || exit 1; \
	done
	install -m 644 scripts/systemd/sio.env.example $(siodocdir)/sio.env.example

# Removes the files install wrote, and the one directory that is sio's own.
uninstall:
	for b in $(DOC_BINARIES); do \
		rm -f $(bindir)/$$b $(man1dir)/$$b.1 $(bashcompdir)/$$b $(zshcompdir)/_$$b $(fishcompdir)/$$b.fish; \
	done
	for u in $(SYSTEMD_UNITS); do rm -f $(unitdir)/$$u; done
	rm -f $(siodocdir)/sio.env.example
	rmdir $(siodocdir) 2>/dev/null || true
