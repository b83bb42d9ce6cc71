package sandbox

import "encoding/json"

// InvokeError is a function error, in the documented Lambda error format that
// runtimes post to /error and /init/error.
type InvokeError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
	// XRayCause is the Lambda-Runtime-Function-Xray-Error-Cause header that
	// aws-lambda-go sends with an error: the cause Lambda puts on the
	// function's segment.
	XRayCause json.RawMessage `json:"-"`
}

func (e *InvokeError) Error() string { return e.Type + ": " + e.Message }

// parseFunctionError reads an error document; a body that is not one still
// yields an error, typed by the Lambda-Runtime-Function-Error-Type header.
func parseFunctionError(body []byte, typ, xrayCause string) *InvokeError {
	var e InvokeError
	if json.Unmarshal(body, &e) != nil {
		e = InvokeError{Message: string(body)}
	}
	if e.Type == "" {
		e.Type = typ
	}
	if e.Type == "" {
		e.Type = "Runtime.Unknown"
	}
	if json.Valid([]byte(xrayCause)) {
		e.XRayCause = json.RawMessage(xrayCause)
	}
	return &e
}
