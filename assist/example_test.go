package assist_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/cad-sidecar/cad-sidecar/assist"
	"github.com/cad-sidecar/cad-sidecar/delivery"
)

func ExampleClient_LinkIncident() {
	// A stand-in for Assist.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/realtime/v1/cad/incident" || r.Header.Get("Authorization") != "Bearer api-token" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"incidentId":"2024-000123","callId":"9f1c2d7e-0000-4000-8000-000000000001"}`)
	}))
	defer srv.Close()

	c, err := assist.NewClient(assist.ClientOptions{BaseURL: srv.URL + "/realtime/v1", Token: "api-token"})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	resp, err := c.LinkIncident(context.Background(), assist.LinkIncidentRequest{
		IncidentID: "2024-000123",
		UserID:     "dispatcher7",
		Fields:     []assist.IncidentField{{Name: "NatureCode", Description: "Nature", Value: "STRUCTURE FIRE"}},
	})
	switch {
	case delivery.IsPermanent(err):
		fmt.Println("dead letter:", err)
	case err != nil:
		fmt.Println("retry later:", err)
	default:
		fmt.Println("linked to call", resp.CallID)
	}
	// Output: linked to call 9f1c2d7e-0000-4000-8000-000000000001
}

func ExampleNoteKeys() {
	pushed := assist.IncidentNote{Type: assist.NoteInfo, Note: "Caller reports gas smell", CreatedAt: "2024-05-01T10:00:00Z"}
	pulled := pushed
	pulled.NoteID = "n-17"
	fmt.Println(len(assist.NoteKeys("INC-1", "call-1", pushed)), len(assist.NoteKeys("INC-1", "call-1", pulled)))
	fmt.Println(assist.NoteKeys("INC-1", "call-1", pushed)[0] == assist.NoteKeys("INC-1", "call-1", pulled)[0])
	fmt.Printf("%q\n", assist.NoteKeys("INC-1", "call-1", pulled)[1])
	// Output:
	// 1 2
	// true
	// "id:INC-1\x1fcall-1\x1fn-17"
}
