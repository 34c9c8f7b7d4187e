# libhrnet: build, test, install, package.
#
#   make                              swift build -c release: libhrnet.so, hrnet-pose, hrnet-bench
#   make test                         the README's test command (bash Tests/run.sh)
#   make install PREFIX=DIR           headers, library, pkg-config and CMake files, tools, demo model
#   make uninstall PREFIX=DIR         removes exactly what install wrote
#   make deb                          libhrnet0, libhrnet-dev, hrnet-tools .debs in .build/deb
#   make wheel                        the Python wheel, repaired and tagged by auditwheel, in .build/wheel
#
# Variables: PREFIX (default /usr/local), DESTDIR (staging root), BINDIR, LIBDIR, INCLUDEDIR,
# DATADIR, SWIFT, PYTHON (for make wheel). The version comes from include/hrnet.h
# (HRNET_VERSION_*), nowhere else.

PREFIX     ?= /usr/local
override PREFIX := $(abspath $(PREFIX))
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=
SWIFT      ?= swift
PYTHON     ?= python3

ROOT    := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD   := $(ROOT)/.build/release

version_part = $(shell sed -n 's/^\#define HRNET_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' $(ROOT)/include/hrnet.h)
MAJOR   := $(call version_part,MAJOR)
MINOR   := $(call version_part,MINOR)
PATCH   := $(call version_part,PATCH)
VERSION := $(MAJOR).$(MINOR).$(PATCH)
SONAME  := libhrnet.so.$(MAJOR)
REALNAME := libhrnet.so.$(VERSION)

CMAKEDIR := $(LIBDIR)/cmake/hrnet
PCDIR    := $(LIBDIR)/pkgconfig
SHAREDIR := $(DATADIR)/hrnet
# Paths as the installed CMake file sees them: relative to its own directory, so a prefix can be
# moved (or unpacked from a .deb into another root) and still be found.
rel = $(shell realpath -m -s --relative-to='$(2)' '$(1)')
# In hrnet.pc, paths under the prefix are written as ${prefix}/...
pcpath = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

INSTALLED := \
	$(INCLUDEDIR)/hrnet.h $(INCLUDEDIR)/hrnet.hpp \
	$(LIBDIR)/$(REALNAME) $(LIBDIR)/$(SONAME) $(LIBDIR)/libhrnet.so \
	$(PCDIR)/hrnet.pc $(CMAKEDIR)/hrnetConfig.cmake $(CMAKEDIR)/hrnetConfigVersion.cmake \
	$(BINDIR)/hrnet-pose $(BINDIR)/hrnet-bench \
	$(SHAREDIR)/models/synth_w16_128x96.pth $(SHAREDIR)/models/README.md

.PHONY: all build test install uninstall deb wheel version clean-packages

all: build

# The SONAME link next to the built library lets programs linked against .build/release (the
# tests, examples/c) find it at run time, as they would an installed one.
# Package.swift reads the SONAME's major version from include/hrnet.h, but SwiftPM caches the
# manifest's evaluation by its own text, and its build plan until the manifest is newer: after a
# change of HRNET_VERSION_MAJOR the SONAME would be stale, so the manifest is evaluated again here.
build:
	@test -n "$(MAJOR)" -a -n "$(MINOR)" -a -n "$(PATCH)" || { echo "cannot read HRNET_VERSION_* from include/hrnet.h" >&2; exit 1; }
	cd $(ROOT) && $(SWIFT) build -c release
	@[ "$$(readelf -d $(BUILD)/libhrnet.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = "$(SONAME)" ] || { \
	  echo "libhrnet.so's SONAME is not $(SONAME): Package.swift evaluated again"; \
	  cd $(ROOT) && touch Package.swift && $(SWIFT) build -c release --manifest-cache none; }
	ln -sf libhrnet.so $(BUILD)/$(SONAME)

test:
	cd $(ROOT) && bash Tests/run.sh

version:
	@echo $(VERSION)

install: build
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(CMAKEDIR) \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/models
	install -m 644 $(ROOT)/include/hrnet.h $(ROOT)/include/hrnet.hpp $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(BUILD)/libhrnet.so $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libhrnet.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pcpath,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(call pcpath,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' \
	    $(ROOT)/packaging/hrnet.pc.in > $(DESTDIR)$(PCDIR)/hrnet.pc
	sed -e 's|@CMAKE_TO_LIBDIR@|$(call rel,$(LIBDIR),$(CMAKEDIR))|g' \
	    -e 's|@CMAKE_TO_INCLUDEDIR@|$(call rel,$(INCLUDEDIR),$(CMAKEDIR))|g' \
	    -e 's|@REALNAME@|$(REALNAME)|g' -e 's|@SONAME@|$(SONAME)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    $(ROOT)/packaging/hrnetConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/hrnetConfig.cmake
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(MAJOR)|g' \
	    $(ROOT)/packaging/hrnetConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/hrnetConfigVersion.cmake
	chmod 644 $(DESTDIR)$(PCDIR)/hrnet.pc $(DESTDIR)$(CMAKEDIR)/hrnetConfig.cmake \
		$(DESTDIR)$(CMAKEDIR)/hrnetConfigVersion.cmake
	install -m 755 $(BUILD)/hrnet-pose $(BUILD)/hrnet-bench $(DESTDIR)$(BINDIR)/
	install -m 644 $(ROOT)/models/synth_w16_128x96.pth $(ROOT)/models/README.md $(DESTDIR)$(SHAREDIR)/models/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(SHAREDIR)/models $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(CMAKEDIR) 2>/dev/null
	-rmdir $(DESTDIR)$(LIBDIR)/cmake $(DESTDIR)$(PCDIR) 2>/dev/null

deb: build
	cd $(ROOT) && bash packaging/deb.sh $(ROOT)/.build/deb

wheel:
	cd $(ROOT) && PYTHON=$(PYTHON) bash packaging/wheel.sh $(ROOT)/.build/wheel

clean-packages:
	rm -rf $(ROOT)/.build/deb $(ROOT)/.build/wheel
