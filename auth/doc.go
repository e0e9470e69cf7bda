// Package auth guards the tgnotify API with API keys.
//
// Callers present a key as gRPC metadata "authorization: Bearer <key>"; on
// the REST mirror the HTTP "Authorization" header carries it, and
// grpc-gateway forwards it as the same metadata, so the gRPC interceptors
// of this package protect both. The keys file, named by
// NOTIFIER_API_KEYS_FILE (see EnvKeysFile), holds only the SHA-256 of each
// key, never the key itself:
//
//	keys:
//	  - name: web-frontend        # what logs and metrics show
//	    sha256: "<hex SHA-256 of the key>"
//	    scopes: [link]
//	  - name: billing
//	    sha256: "<hex SHA-256 of the key>"
//	    scopes: [notify]
//	    rate: 50/s                # optional: sustained calls per s, m or h
//	    burst: 100                # optional: calls at once (default: 1 s of rate)
//
// The same document may be written as JSON. A key with a rate is limited
// by a token bucket in this process (so with N replicas it may make up to
// N times the rate in all); every call of the key counts, whatever the
// method, and a call over the limit is answered with RESOURCE_EXHAUSTED
// and a RetryInfo detail saying when to retry (HTTP 429 on REST). A key
// without a rate is unlimited. A reload keeps the bucket of a key that
// keeps its name. Scope "link" allows
// CreateLinkToken, GetLinkURL, GetStatus, WatchStatus, Unlink and
// CreateBrowserSession; scope "notify" allows Notify, GetNotification,
// EditNotification, DeleteNotification, GetStatus and WatchStatus; scope
// "events" allows ListEvents
// and WatchEvents (the event log); a key may hold several. A missing or unknown
// key is answered with UNAUTHENTICATED (HTTP 401), a known key without the
// scope the method needs with PERMISSION_DENIED (HTTP 403). Health checks
// and server reflection never need a key, and neither does the Telegram
// webhook, which is not a gRPC method. With no keys file the service runs
// open: New logs a loud warning and every caller is "anonymous".
//
// # Browser sessions
//
// A bearer value starting with SessionPrefix ("tgs1.") is a browser
// session minted by [Sessions] (HMAC-SHA256 with NOTIFIER_SESSION_SECRET,
// carrying user, bot and expiry; see UseSessions). With keys on it may call
// GetLinkURL, CreateLinkToken, GetStatus, WatchStatus and Unlink for its own
// user only (the interceptors compare each request's user_id); anything
// else is PERMISSION_DENIED, an expired or altered token UNAUTHENTICATED.
// In open mode bearer values are not looked at.
//
// # Minting a key
//
// Generate a random key, give it to the caller, and put only its hash in the
// keys file:
//
//	key=$(openssl rand -base64 32)
//	printf %s "$key" | sha256sum
//
// Use printf %s, not echo: echo appends a newline, which changes the hash.
// Send SIGHUP to the process to reload the file (WatchSIGHUP); connections
// are kept, and a file that fails to load leaves the old keys in force.
//
// # Wiring
//
// Add Authenticator.UnaryServerInterceptor and StreamServerInterceptor to
// the gRPC server (after logging and metrics, so that rejected calls are
// still logged and counted), call WatchSIGHUP once at start, and wrap the
// REST mirror's HTTP handler (not the webhook or /metrics) in CORS. The
// authenticated caller is available to handlers through CallerFromContext;
// its Name is the key's name, safe for logs and metric labels.
package auth
