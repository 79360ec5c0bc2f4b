package sidecar

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cad-sidecar/cad-sidecar/assist"
)

// registerWebhook registers the webhook with Assist, retrying with capped exponential
// backoff until it succeeds or ctx ends. A registration identical to the stored one (same
// events, target URL and token) is not repeated at each start.
func (s *Sidecar) registerWebhook(ctx context.Context) error {
	w := s.cfg.Assist.Webhook
	reg := assist.WebhookRegistration{
		EventType: w.Events,
		AuthToken: w.AuthToken,
		TargetURL: strings.TrimRight(s.cfg.Server.PublicURL, "/") + w.Path,
	}
	sum := sha256.Sum256([]byte(reg.EventType + "\x00" + reg.TargetURL + "\x00" + reg.AuthToken))
	fingerprint := hex.EncodeToString(sum[:])
	if prev, ok, err := s.store.Get(bucketMeta, "webhook_registration"); err == nil && ok && prev == fingerprint {
		id, _, _ := s.store.Get(bucketMeta, "webhook_id")
		s.log.Info("webhook already registered", "webhook_id", id, "target_url", reg.TargetURL)
		s.setRegistered()
		return nil
	}
	delay := time.Second
	const maxDelay = 5 * time.Minute
	for attempt := 1; ; attempt++ {
		resp, err := s.client.RegisterWebhook(ctx, reg)
		if err == nil {
			if err := s.store.Put(bucketMeta, "webhook_id", resp.WebhookID); err != nil {
				return err
			}
			if err := s.store.Put(bucketMeta, "webhook_registration", fingerprint); err != nil {
				return err
			}
			s.log.Info("webhook registered", "webhook_id", resp.WebhookID, "target_url", reg.TargetURL)
			s.setRegistered()
			return nil
		}
		s.log.Warn("webhook registration failed, will retry", "attempt", attempt, "retry_in", delay.String(), "err", err)
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(delay*2, maxDelay)
	}
}

func (s *Sidecar) setRegistered() {
	s.registered.Store(true)
	s.metrics.Registered.Set(1)
}
