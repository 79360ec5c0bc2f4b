package outbox

import "context"

// ackSlot is what a handler asks its Deliver to commit with the message's ack.
type ackSlot struct {
	link    Link
	hasLink bool
}

type ackSlotKey struct{}

// PutLinkWithAck asks the Deliver whose handler runs with ctx to store l (as PutLink does)
// in the transaction that acks the handler's message: one commit for both instead of two,
// and never the ack without the link. It reports false when ctx is not that of a handler
// that can do so (a second try, a probe, a test's own context) or a link was given already:
// then call PutLink. The link is stored only when the handler returns nil and its ack is
// committed; a handler that fails after the call stores nothing (its message is delivered
// again). Until the ack is committed GetLink does not see l: a handler that reads the link
// back after storing it must use PutLink.
func PutLinkWithAck(ctx context.Context, l Link) bool {
	slot, ok := ctx.Value(ackSlotKey{}).(*ackSlot)
	if !ok || slot.hasLink || l.IncidentID == "" {
		return false
	}
	slot.link, slot.hasLink = l, true
	return true
}
