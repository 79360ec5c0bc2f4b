package assist

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Handle (the store's callback) keeps a live context when Assist hangs up mid-request:
// an event that reached the sidecar is stored even if its answer can no longer be sent.
// The test waits until the server has seen the hang-up (the request's own context is
// done) and only then looks at the context Handle was given: exactly one outcome, not
// cancelled.
func TestHandleContextOutlivesTheRequest(t *testing.T) {
	reqCtx := make(chan context.Context, 1)
	started := make(chan struct{})
	result := make(chan error, 1)
	r, err := NewReceiver(ReceiverOptions{AuthToken: hookToken,
		Handle: func(ctx context.Context, ev Event) error {
			close(started)
			rc := <-reqCtx
			select {
			case <-rc.Done(): // the server saw the client go away
			case <-time.After(10 * time.Second):
				result <- context.DeadlineExceeded
				return nil
			}
			result <- ctx.Err()
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		reqCtx <- req.Context()
		r.ServeHTTP(w, req)
	}))
	defer srv.Close()

	ctx, hangUp := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(noteBody))
	req.Header.Set("Authorization", hookToken)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := srv.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("Handle was not called within 10s")
	}
	hangUp()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the client's request did not return within 10s of hanging up")
	}
	select {
	case err := <-result:
		if err == context.DeadlineExceeded {
			t.Fatal("the server did not see the client hang up within 10s")
		}
		if err != nil {
			t.Fatalf("Handle's context was cancelled when Assist hung up (%v): the event may not be stored", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Handle did not finish within 20s")
	}
}
