package filedrop_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/adapters"
	"github.com/cad-sidecar/cad-sidecar/adapters/filedrop"
)

func transcript() adapters.Transcript {
	return adapters.Transcript{IncidentID: "INC/7", CallID: "c-1", UserID: "u", Key: "transcript:c-1",
		CreatedAt: "2026-12-01T17:00:00Z", Text: "Transcript\n[0:01] CALLER: hola (translated: hello)",
		Segments: []adapters.TranscriptSegment{
			{Role: "CALL_TAKER", Start: 0.5, End: 1, Lang: "en-US", Text: "911 <what> & where?"},
			{Role: "CALLER", Start: 1.5, End: 3, Lang: "es-US", Text: "hola", Translated: "hello"},
		}}
}

// A transcript is one file beside the notes, named like a note with ".transcript"
// before the extension; writing it again (a retry) replaces it.
func TestSinkWritesTranscriptFile(t *testing.T) {
	for _, format := range []string{"json", "xml", "text"} {
		t.Run(format, func(t *testing.T) {
			s, out := newSink(t, format, "")
			ctx := context.Background()
			if err := s.WriteNote(ctx, note(1)); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := s.WriteTranscript(ctx, transcript()); err != nil {
					t.Fatal(err)
				}
			}
			names := listNames(t, out)
			ext := map[string]string{"json": ".json", "xml": ".xml", "text": ".txt"}[format]
			want := filedrop.TranscriptFileName(transcript(), ext)
			if len(names) != 2 || (names[0] != want && names[1] != want) {
				t.Fatalf("files %v, want a note and %s", names, want)
			}
			if !strings.HasPrefix(want, "20261201T170000.000Z-INC_7-") || !strings.HasSuffix(want, ".transcript"+ext) {
				t.Errorf("name %s", want)
			}
			b, err := os.ReadFile(filepath.Join(out, want))
			if err != nil {
				t.Fatal(err)
			}
			switch format {
			case "json":
				var got struct {
					IncidentID string                       `json:"incident_id"`
					Segments   []adapters.TranscriptSegment `json:"segments"`
					Text       string                       `json:"text"`
				}
				if err := json.Unmarshal(b, &got); err != nil || got.IncidentID != "INC/7" || len(got.Segments) != 2 ||
					got.Segments[1].Translated != "hello" || got.Text != transcript().Text {
					t.Errorf("file %s (%v)", b, err)
				}
			case "xml":
				var got struct {
					Segments []struct {
						Role string `xml:"Role"`
						Text string `xml:"Text"`
					} `xml:"Segments>Segment"`
				}
				if err := xml.Unmarshal(b, &got); err != nil || len(got.Segments) != 2 || got.Segments[0].Text != "911 <what> & where?" {
					t.Errorf("file %s (%v)", b, err)
				}
			case "text":
				if !strings.Contains(string(b), "Incident: INC/7\n") || !strings.HasSuffix(string(b), transcript().Text+"\n") {
					t.Errorf("file %q", b)
				}
			}
		})
	}
}
