package eido

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
)

// The messages of NENA-STA-024 EIDO conveyance: each is a JSON object with one key naming
// the message (subscribe, subscribeResponse, event, eventResponse, terminate, ...).

type subscribe struct {
	RequestID      string `json:"requestId"`
	RequestType    string `json:"requestType"`
	RequestSubType string `json:"requestSubType"`
	RequestAccepts string `json:"requestAccepts,omitempty"`
	SubscriptionID string `json:"subscriptionId,omitempty"` // set on a renewal
	Expires        int    `json:"expires,omitempty"`        // seconds asked for on a renewal
	QualFilter     string `json:"qualFilter,omitempty"`
	MinRate        int    `json:"minRate,omitempty"`
}

type subscribeResponse struct {
	RequestID      string `json:"requestId"`
	SubscriptionID string `json:"subscriptionId"`
	Expires        int    `json:"expires"` // seconds
	StatusCode     int    `json:"statusCode"`
	StatusText     string `json:"statusText"`
}

type unsubscribe struct {
	RequestID      string `json:"requestId"`
	SubscriptionID string `json:"subscriptionId"`
}

type event struct {
	SubscriptionID string            `json:"subscriptionId"`
	TransactionID  string            `json:"transactionId"`
	Notification   []json.RawMessage `json:"notification"`
}

type eventResponse struct {
	TransactionID string `json:"transactionId"`
	StatusCode    int    `json:"statusCode"`
	StatusText    string `json:"statusText"`
}

type terminate struct {
	RequestID      string `json:"requestId"`
	SubscriptionID string `json:"subscriptionId"`
}

type terminateResponse struct {
	RequestID      string `json:"requestId"`
	SubscriptionID string `json:"subscriptionId"`
	StatusCode     int    `json:"statusCode"`
	StatusText     string `json:"statusText"`
}

// envelope is any message: the one key that is set says which.
type envelope struct {
	Subscribe           *subscribe         `json:"subscribe,omitempty"`
	SubscribeResponse   *subscribeResponse `json:"subscribeResponse,omitempty"`
	Unsubscribe         *unsubscribe       `json:"unsubscribe,omitempty"`
	UnsubscribeResponse *json.RawMessage   `json:"unsubscribeResponse,omitempty"`
	Event               *event             `json:"event,omitempty"`
	EventResponse       *eventResponse     `json:"eventResponse,omitempty"`
	Terminate           *terminate         `json:"terminate,omitempty"`
	TerminateResponse   *terminateResponse `json:"terminateResponse,omitempty"`
}

// requestAccepts is what the subscriber takes.
const requestAccepts = `application/emergency.eido+json; version="1,2,3"`

// newRequestID is a random UUID (version 4).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ok2xx reports whether a statusCode is a success.
func ok2xx(code int) bool { return code >= 200 && code < 300 }
