# make                 build release binaries
# make install         build, then install (PREFIX=/usr/local, DESTDIR for staging)
# make install-files   install what is already built in BUILD_DIR (no build)
# make uninstall       remove what install put in place
# make test            the test suite (as in the README)

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DATADIR     ?= $(PREFIX)/share
DOCDIR      ?= $(DATADIR)/doc/jobqueue
BUILD_DIR   ?= .build/release

INSTALL ?= install

.PHONY: all build install install-files uninstall test

all: build

build:
	swift build -c release --product jobqueued
	swift build -c release --product jobctl

install: build install-files

install-files:
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(SYSCONFDIR)/jobqueue $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/vendor-completions \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	$(INSTALL) -m 0755 $(BUILD_DIR)/jobqueued $(BUILD_DIR)/jobctl $(DESTDIR)$(BINDIR)/
	sed 's|/usr/local/bin/jobqueued|$(BINDIR)/jobqueued|; s|/etc/jobqueue/|$(SYSCONFDIR)/jobqueue/|' systemd/jobqueued.service \
		> $(DESTDIR)$(UNITDIR)/jobqueued.service
	$(INSTALL) -m 0644 systemd/jobqueued.socket $(DESTDIR)$(UNITDIR)/jobqueued.socket
	sed 's|/usr/local/bin/jobqueued|$(BINDIR)/jobqueued|' systemd/user/jobqueued.service > $(DESTDIR)$(USERUNITDIR)/jobqueued.service
	$(INSTALL) -m 0644 systemd/user/jobqueued.socket $(DESTDIR)$(USERUNITDIR)/jobqueued.socket
	$(INSTALL) -m 0644 systemd/jobqueue.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/jobqueue.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/jobqueue/jobqueued.yaml || \
		$(INSTALL) -m 0644 etc/jobqueued.yaml $(DESTDIR)$(SYSCONFDIR)/jobqueue/jobqueued.yaml
	$(INSTALL) -m 0644 completions/jobctl.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/jobctl
	$(INSTALL) -m 0644 completions/jobctl.zsh $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_jobctl
	$(INSTALL) -m 0644 completions/jobctl.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/jobctl.fish
	$(INSTALL) -m 0644 README.md docs/*.md systemd/http-loopback.conf etc/grafana-dashboard.json $(DESTDIR)$(DOCDIR)/

# The config file stays: it is the operator's.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/jobqueued $(DESTDIR)$(BINDIR)/jobctl \
		$(DESTDIR)$(UNITDIR)/jobqueued.service $(DESTDIR)$(UNITDIR)/jobqueued.socket \
		$(DESTDIR)$(USERUNITDIR)/jobqueued.service $(DESTDIR)$(USERUNITDIR)/jobqueued.socket \
		$(DESTDIR)$(SYSUSERSDIR)/jobqueue.conf \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/jobctl $(DESTDIR)$(DATADIR)/zsh/vendor-completions/_jobctl \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/jobctl.fish
	rm -rf $(DESTDIR)$(DOCDIR)

test:
	swift test
