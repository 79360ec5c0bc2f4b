package outbox

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkEnqueue measures durable enqueues from parallel producers (group commit).
// Run with e.g. -cpu 1,4 and -benchtime; b.SetParallelism(8) gives 8 producers per CPU.
func BenchmarkEnqueue(b *testing.B) {
	for _, producers := range []int{1, 8} {
		b.Run(fmt.Sprintf("producers=%dxGOMAXPROCS", producers), func(b *testing.B) {
			s, err := Open(b.TempDir()+"/bench.db", Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			payload := make([]byte, 512)
			var n atomic.Int64
			b.SetBytes(int64(len(payload)))
			b.SetParallelism(producers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := n.Add(1)
					if _, err := s.Enqueue(ctx, TopicNote, fmt.Sprintf("inc-%d", i%100), payload, fmt.Sprintf("idem-%d", i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
