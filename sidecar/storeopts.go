package sidecar

import (
	"log/slog"

	"github.com/cad-sidecar/cad-sidecar/config"
	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// StoreOptions are the outbox options of cfg (retry, max_age, max_bytes, concurrency,
// max_attempts, urgent_attempts) with log as the outbox's logger. The sidecar opens its
// data file with them, and so do the offline operator commands: a command run on a
// stopped sidecar's file must not apply other limits (the default max_age, say) than the
// sidecar itself.
func StoreOptions(cfg *config.Config, log *slog.Logger) outbox.Options {
	return outbox.Options{
		RetryInitial:   cfg.Outbox.Retry.Initial,
		RetryMax:       cfg.Outbox.Retry.Max,
		MaxAge:         cfg.Outbox.MaxAge,
		MaxBytes:       int64(cfg.Outbox.MaxBytes),
		Concurrency:    cfg.Outbox.Concurrency,
		MaxAttempts:    cfg.Outbox.MaxAttempts,
		UrgentAttempts: cfg.Outbox.UrgentAttempts,
		Logger:         log,
	}
}
