package server

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// restErrorHandler is grpc-gateway's default error handler plus a
// Retry-After header when the status carries a RetryInfo detail: a call
// over its API key's rate (RESOURCE_EXHAUSTED, HTTP 429) says when to come
// back. The header is in whole seconds, rounded up, at least 1; RetryInfo
// in the body keeps the exact delay.
func restErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if d, ok := retryDelay(err); ok {
		secs := max(1, int64(math.Ceil(d.Seconds())))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// retryDelay returns the delay of the RetryInfo detail of err's status.
func retryDelay(err error) (d time.Duration, ok bool) {
	st, isStatus := status.FromError(err)
	if !isStatus {
		return 0, false
	}
	for _, det := range st.Details() {
		if ri, isRI := det.(*errdetails.RetryInfo); isRI && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
