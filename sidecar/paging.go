package sidecar

import (
	"slices"

	"github.com/cad-sidecar/cad-sidecar/outbox"
)

// pageSpec selects one page of a listing that runs across the outbox's topics.
type pageSpec struct {
	topic        string // "" = every known topic, in name order
	after        string // an id (note-42): the page starts after it
	limit        int    // 0 = defaultLimit; at most maxLimit
	defaultLimit int
	maxLimit     int
}

// pageAcrossTopics returns one page of a listing across topics, in topic then queue order,
// and the id to pass as after for the next page ("" on the last). fetch returns up to n
// items of topic t after seq after; idOf names an item; hasAny reports whether a topic has
// any item (asked only of topics after a full page's last one).
func pageAcrossTopics[T any](known []outbox.Topic, p pageSpec,
	fetch func(t outbox.Topic, after uint64, n int) ([]T, error),
	idOf func(T) string,
	hasAny func(t outbox.Topic) (bool, error),
) ([]T, string, error) {
	limit := p.limit
	switch {
	case limit == 0:
		limit = p.defaultLimit
	case limit < 0 || limit > p.maxLimit:
		return nil, "", inputErrorf("bad limit %d: want 1 to %d", limit, p.maxLimit)
	}
	list := known
	if p.topic != "" {
		t, err := checkTopic(known, p.topic)
		if err != nil {
			return nil, "", err
		}
		list = []outbox.Topic{t}
	}
	var afterTopic outbox.Topic
	var afterSeq uint64
	if p.after != "" {
		var err error
		if afterTopic, afterSeq, err = parseID(known, p.after); err != nil {
			return nil, "", err
		}
		if !slices.Contains(list, afterTopic) {
			return nil, "", inputErrorf("after %q is not of topic %q", p.after, p.topic)
		}
	}
	items := []T{}
	for _, t := range list {
		if afterTopic != "" && t < afterTopic {
			continue
		}
		after := uint64(0)
		if t == afterTopic {
			after = afterSeq
		}
		want := limit - len(items)
		got, err := fetch(t, after, want+1) // one more: is there a next page?
		if err != nil {
			return nil, "", err
		}
		for i, item := range got {
			if i == want {
				return items, idOf(items[len(items)-1]), nil
			}
			items = append(items, item)
		}
		if len(items) == limit {
			for _, later := range list { // full: a next page if a later topic has any
				if later <= t {
					continue
				}
				more, err := hasAny(later)
				if err != nil {
					return nil, "", err
				}
				if more {
					return items, idOf(items[len(items)-1]), nil
				}
			}
			return items, "", nil
		}
	}
	return items, "", nil
}
