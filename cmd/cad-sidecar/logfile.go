package main

import (
	"fmt"
	"io"
	"log/slog"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/cad-sidecar/cad-sidecar/config"
)

// newRunLogger builds the logger of `run`: to stderr, or to log.file rotated by size when
// it is set (a Windows service has no journald and no console). The file is opened here so
// that a folder that does not exist or cannot be written fails the start, naming the file;
// close flushes nothing (writes are unbuffered) but releases the file.
func newRunLogger(stderr io.Writer, c config.LogConfig) (log *slog.Logger, close func() error, err error) {
	if c.File == "" {
		return newLogger(stderr, c), func() error { return nil }, nil
	}
	lj := rotatingLogFile(c)
	// A zero-length write opens (or creates) the file now instead of at the first line,
	// where slog would drop the error.
	if _, err := lj.Write(nil); err != nil {
		return nil, nil, fmt.Errorf("log.file %s: %w", c.File, err)
	}
	return newLogger(lj, c), lj.Close, nil
}

// rotatingLogFile maps the log.* keys onto the rotator: log.max_size in whole MiB (rounded
// up; the rotator counts megabytes of 2^20 bytes) and log.max_files old files kept.
func rotatingLogFile(c config.LogConfig) *lumberjack.Logger {
	mib := int((c.MaxSize + config.MiB - 1) / config.MiB)
	if mib < 1 {
		mib = 1
	}
	return &lumberjack.Logger{
		Filename:   c.File,
		MaxSize:    mib,
		MaxBackups: c.MaxFiles,
	}
}
