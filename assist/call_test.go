package assist

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cad-sidecar/cad-sidecar/delivery"
)

// fullCallJSON has every field of the seed's FullCallDto, CallSummary and CallSegmentDto,
// spelt as the seed spells them, plus fields the client does not know.
const fullCallJSON = `{
 "id":"c-1","callProducer":"prod","positionId":12,"tenantId":3,"callSid":"CA1","callStatus":"ENDED",
 "systemStatus":"OK","streamSid":"MZ1","createdAt":"2026-01-01T10:00:00Z","startedAt":"2026-01-01T10:00:01Z",
 "detectedLangCode":"es-US","languageCode":"en-US","callAudioBucket":"b","callAudioKey":"k.wav",
 "summary":{"title":"T","summary":"S","nature":"N","location":"L","severity":"HIGH","hazards":"H",
   "timeSensitivity":"TS","callerInfo":"CI","suspectDetails":"SD","ancillaryServices":"AS","additionalRemarks":"AR","mood":"x"},
 "referenceCallId":"r-1","languageLineCallId":"ll-1","lbStickySession":"sticky","languageLineConnected":true,
 "statusEvents":[{"status":"ENDED"}],
 "segments":[
  {"id":"s2","callId":"c-1","transcriptionResultId":"tr2","langCode":"es-US","langCodeConfidence":0.9,
   "transcriptionConfidence":0.8,"participantId":"p1","participantRole":"CALLER","direction":"INBOUND",
   "type":"TRANSCRIPTION","text":"hola","translatedText":"hello","spokenTranslationAudio":"a.wav",
   "startTime":4.5,"endTime":6.25,"createdAt":"2026-01-01T10:00:05Z","createdBy":7,
   "alternativeTranslation":"hi","final":true,"speakerLabel":"x"},
  {"id":"s1p","startTime":1,"text":"partial","final":false},
  {"id":"s1","startTime":1,"text":"first","final":true,"participantRole":"CALL_TAKER"}
 ],
 "participants":{"caller":{"role":"CALLER"}},"caseId":"case-9","newTopLevel":{"a":1}}`

func TestGetCallDecodesEveryField(t *testing.T) {
	f := newFake(t, jsonReply(200, fullCallJSON))
	got, err := newTestClient(t, f.URL).GetCall(context.Background(), "c/1")
	if err != nil {
		t.Fatal(err)
	}
	r := f.last(t)
	if r.Method != http.MethodGet || r.RawPath != "/realtime/v1/call/c%2F1" {
		t.Errorf("request %s %s (raw %s)", r.Method, r.Path, r.RawPath)
	}
	if h := r.Header.Get("Authorization"); h != "Bearer "+testToken {
		t.Errorf("Authorization = %q", h)
	}
	if got.ID != "c-1" || got.CallProducer != "prod" || got.PositionID != 12 || got.TenantID != 3 || got.CallSid != "CA1" ||
		got.CallStatus != "ENDED" || got.SystemStatus != "OK" || got.StreamSid != "MZ1" || got.CreatedAt != "2026-01-01T10:00:00Z" ||
		got.StartedAt != "2026-01-01T10:00:01Z" || got.DetectedLangCode != "es-US" || got.LanguageCode != "en-US" ||
		got.CallAudioBucket != "b" || got.CallAudioKey != "k.wav" || got.ReferenceCallID != "r-1" || got.LanguageLineCallID != "ll-1" ||
		got.LBStickySession != "sticky" || !got.LanguageLineConnected || len(got.StatusEvents) != 1 || got.CaseID != "case-9" ||
		got.Participants["caller"] == nil {
		t.Errorf("call fields: %+v", got)
	}
	want := CallSummary{Title: "T", Summary: "S", Nature: "N", Location: "L", Severity: "HIGH", Hazards: "H",
		TimeSensitivity: "TS", CallerInfo: "CI", SuspectDetails: "SD", AncillaryServices: "AS", AdditionalRemarks: "AR"}
	if got.Summary == nil || *got.Summary != want {
		t.Errorf("summary = %+v", got.Summary)
	}
	wantSeg := CallSegmentDto{ID: "s2", CallID: "c-1", TranscriptionResultID: "tr2", LangCode: "es-US", LangCodeConfidence: 0.9,
		TranscriptionConfidence: 0.8, ParticipantID: "p1", ParticipantRole: "CALLER", Direction: "INBOUND", Type: "TRANSCRIPTION",
		Text: "hola", TranslatedText: "hello", SpokenTranslationAudio: "a.wav", StartTime: 4.5, EndTime: 6.25,
		CreatedAt: "2026-01-01T10:00:05Z", CreatedBy: 7, AlternativeTranslation: "hi", Final: true}
	if len(got.Segments) != 3 || got.Segments[0] != wantSeg {
		t.Errorf("segments = %+v", got.Segments)
	}
	fin := got.FinalSegments()
	if len(fin) != 2 || fin[0].ID != "s1" || fin[1].ID != "s2" {
		t.Errorf("FinalSegments = %+v, want s1, s2 (final only, by start time)", fin)
	}
}

func TestFinalSegmentsWithoutFinalFlags(t *testing.T) {
	c := FullCallDto{Segments: []CallSegmentDto{{ID: "b", StartTime: 2}, {ID: "a", StartTime: 1}}}
	if fin := c.FinalSegments(); len(fin) != 2 || fin[0].ID != "a" {
		t.Errorf("FinalSegments = %+v, want every segment by start time", fin)
	}
}

// GET /call is classified and redacted like the other calls: 404 permanent, 5xx
// transient; Error() names the path and status, the answer (caller data) is Evidence.
func TestGetCallFailures(t *testing.T) {
	const secret = "caller Jane Roe"
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		permanent bool
	}{
		{"404 no such call", 404, `{"errorMessage":"no call for ` + secret + `"}`, true},
		{"503", 503, `{"errorMessage":"busy ` + secret + `"}`, false},
		{"429", 429, ``, false},
		{"401 token", 401, ``, false},
		{"2xx not a call", 200, `{"segments": "` + secret + `"}`, false},
		{"2xx not JSON", 200, `<html>` + secret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, err := newTestClient(t, f.URL).GetCall(context.Background(), "c-1")
			if err == nil {
				t.Fatal("want error")
			}
			if delivery.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", !tc.permanent, tc.permanent, err)
			}
			if strings.Contains(err.Error(), "Jane") || !strings.Contains(err.Error(), "GET /call/c-1") {
				t.Errorf("Error() = %q: want the path, not the answer", err)
			}
			if tc.status != 200 && tc.body != "" {
				var ev interface{ Evidence() string }
				if !errors.As(err, &ev) || !strings.Contains(ev.Evidence(), "Jane") {
					t.Errorf("the answer is not the error's evidence: %v", err)
				}
			}
		})
	}
}

func TestGetCallRefusesBadIDs(t *testing.T) {
	f := newFake(t, jsonReply(200, `{}`))
	for _, id := range []string{"", ".", ".."} {
		if _, err := newTestClient(t, f.URL).GetCall(context.Background(), id); err == nil || !delivery.IsPermanent(err) {
			t.Errorf("GetCall(%q) = %v, want a permanent error", id, err)
		}
	}
	if f.count() != 0 {
		t.Errorf("%d requests sent for invalid ids", f.count())
	}
}
