package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Messages of the errors returned to callers without a usable key.
const (
	msgMissingKey = "missing API key: send 'authorization: Bearer <key>'"
	msgUnknownKey = "unknown API key"
)

// maxKeyLen bounds the length of a presented key; longer values are unknown.
const maxKeyLen = 1024

// notifierService is the prefix of the API's full method names.
const notifierService = "/notifier.v1.NotifierService/"

// exemptPrefixes are services that never need an API key.
var exemptPrefixes = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// methodScopes maps each NotifierService method to the scopes that allow it
// (any one of them suffices).
var methodScopes = map[string][]Scope{
	"CreateLinkToken": {ScopeLink},
	"GetLinkURL":      {ScopeLink},
	"Notify":          {ScopeNotify},
	"GetNotification": {ScopeNotify},
	// The notification's sender may edit and retract it.
	"EditNotification":     {ScopeNotify},
	"DeleteNotification":   {ScopeNotify},
	"GetStatus":            {ScopeLink, ScopeNotify},
	"Unlink":               {ScopeLink},
	"ListEvents":           {ScopeEvents},
	"WatchEvents":          {ScopeEvents},
	"CreateBrowserSession": {ScopeLink},
	"WatchStatus":          {ScopeLink, ScopeNotify},
	// Broadcasts are notifications to many users.
	"Broadcast":             {ScopeNotify},
	"GetBroadcast":          {ScopeNotify},
	"CancelBroadcast":       {ScopeNotify},
	"ListBroadcastFailures": {ScopeNotify},
}

// Exempt reports whether the gRPC full method name belongs to a service
// that never needs an API key (health checking and server reflection).
func Exempt(fullMethod string) bool {
	for _, p := range exemptPrefixes {
		if strings.HasPrefix(fullMethod, p) {
			return true
		}
	}
	return false
}

// RequiredScopes returns the scopes of which a caller needs at least one to
// call the gRPC full method name, and false for a method that no key may
// call.
func RequiredScopes(fullMethod string) ([]Scope, bool) {
	m, ok := strings.CutPrefix(fullMethod, notifierService)
	if !ok {
		return nil, false
	}
	s, ok := methodScopes[m]
	return slices.Clone(s), ok
}

// Caller is the authenticated party of a call.
type Caller struct {
	// Name is the key's name from the keys file, or AnonymousName in open
	// mode. It is safe for logs and metric labels.
	Name string
	// Scopes are the scopes the key holds; in open mode, all of them.
	// A browser session holds none.
	Scopes []Scope
	// Session is set when the caller presented a browser session token
	// instead of an API key: it may call only sessionMethods, for
	// Session.UserID only.
	Session *Session
	// Bots are the bots the key may use; nil: all of them.
	Bots []string
}

// AllowsBot reports whether the caller may use bot.
func (c Caller) AllowsBot(bot string) bool {
	return c.Bots == nil || slices.Contains(c.Bots, bot)
}

// Has reports whether the caller holds scope s.
func (c Caller) Has(s Scope) bool {
	return slices.Contains(c.Scopes, s)
}

// callerKey is the context key of the Caller.
type callerKey struct{}

// ContextWithCaller returns a copy of ctx that carries c.
func ContextWithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller that the interceptors stored in ctx.
// It reports false for calls that were not authenticated, such as health
// checks.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Authenticator checks API keys and their rate limits. Its key set can be
// replaced at any time with Swap; calls in flight keep the set they
// started with.
type Authenticator struct {
	state  atomic.Pointer[keyState]
	swapMu sync.Mutex // serialises Swap
	log    *zap.Logger
	now    func() time.Time
	// sessions verifies browser session tokens (nil: none are accepted).
	sessions *Sessions
}

// UseSessions makes the Authenticator accept browser session tokens
// signed by s. Call it before serving.
func (a *Authenticator) UseSessions(s *Sessions) { a.sessions = s }

// keyState is a key set with the rate limiters of its rate-limited keys.
type keyState struct {
	keys     *KeySet
	limiters map[string]*keyLimiter // by key name
}

// keyLimiter is the token bucket of one rate-limited key. It lives in this
// process only: with several replicas each admits the key's full rate.
type keyLimiter struct {
	lim  *rate.Limiter
	rate keyRate
}

// newKeyState builds the state for keys. Limiters of keys that old had
// under the same name are kept (with the new rate and burst), so that a
// reload neither refills nor empties a key's bucket.
func newKeyState(keys *KeySet, old *keyState, now time.Time) *keyState {
	st := &keyState{keys: keys, limiters: map[string]*keyLimiter{}}
	if keys == nil {
		return st
	}
	for _, k := range keys.keys {
		if k.rate == nil {
			continue
		}
		lim := rate.NewLimiter(rate.Limit(k.rate.perSecond), k.rate.burst)
		if old != nil {
			if prev, ok := old.limiters[k.name]; ok {
				lim = prev.lim
				lim.SetLimitAt(now, rate.Limit(k.rate.perSecond))
				lim.SetBurstAt(now, k.rate.burst)
			}
		}
		st.limiters[k.name] = &keyLimiter{lim: lim, rate: *k.rate}
	}
	return st
}

// New returns an Authenticator for keys. A nil keys means that no keys file
// is configured: the service runs open, and New logs a warning saying so.
// A nil log discards logs.
func New(keys *KeySet, log *zap.Logger) *Authenticator {
	if log == nil {
		log = zap.NewNop()
	}
	a := &Authenticator{log: log, now: time.Now}
	a.state.Store(newKeyState(keys, nil, a.now()))
	if keys == nil {
		log.Warn("NO API KEYS CONFIGURED: the API is OPEN and any caller may link users and send notifications; set " +
			EnvKeysFile + " to a keys file to require API keys")
	} else {
		log.Info("API keys loaded", zap.Int("keys", keys.Len()), zap.Strings("names", keys.Names()))
	}
	return a
}

// Swap replaces the key set. A nil keys switches to open mode (and logs a
// warning). A key that keeps its name keeps its rate limiter's state.
func (a *Authenticator) Swap(keys *KeySet) {
	a.swapMu.Lock()
	a.state.Store(newKeyState(keys, a.state.Load(), a.now()))
	a.swapMu.Unlock()
	if keys == nil {
		a.log.Warn("API keys removed: the API is now OPEN")
	}
}

// Open reports whether no keys are configured, so that every call passes.
func (a *Authenticator) Open() bool {
	return a.state.Load().keys == nil
}

// Authenticate identifies the caller from the "authorization: Bearer <key>"
// metadata of the incoming gRPC context. It returns an UNAUTHENTICATED
// status error for a missing, malformed or unknown key. In open mode it
// returns the anonymous caller with every scope.
func (a *Authenticator) Authenticate(ctx context.Context) (Caller, error) {
	return a.authenticate(ctx, a.state.Load().keys)
}

// authenticate identifies the caller against ks (nil: open mode) or, for a
// bearer value starting with SessionPrefix, as a browser session.
func (a *Authenticator) authenticate(ctx context.Context, ks *KeySet) (Caller, error) {
	if ks == nil {
		return Caller{Name: AnonymousName, Scopes: allScopes()}, nil
	}
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	if len(vals) != 1 {
		return Caller{}, status.Error(codes.Unauthenticated, msgMissingKey)
	}
	scheme, secret, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "bearer") || secret == "" {
		return Caller{}, status.Error(codes.Unauthenticated, msgMissingKey)
	}
	if len(secret) > maxKeyLen {
		return Caller{}, status.Error(codes.Unauthenticated, msgUnknownKey)
	}
	if strings.HasPrefix(secret, SessionPrefix) {
		return a.sessionCaller(secret)
	}
	k, ok := ks.match(secret)
	if !ok {
		return Caller{}, status.Error(codes.Unauthenticated, msgUnknownKey)
	}
	return Caller{Name: k.name, Scopes: slices.Clone(k.scopes), Bots: slices.Clone(k.bots)}, nil
}

// sessionCaller verifies a session token.
func (a *Authenticator) sessionCaller(token string) (Caller, error) {
	if a.sessions == nil {
		return Caller{}, status.Error(codes.Unauthenticated, "browser sessions are not enabled on this service")
	}
	sess, err := a.sessions.Verify(token)
	if err != nil {
		return Caller{}, status.Error(codes.Unauthenticated, err.Error())
	}
	return Caller{Name: SessionCallerName, Session: &sess}, nil
}

// match finds the key whose hash is the SHA-256 of secret. It compares
// against every configured hash in constant time, without stopping at a
// match, so timing tells nothing about which or how many hashes matched.
func (s *KeySet) match(secret string) (key, bool) {
	sum := sha256.Sum256([]byte(secret))
	idx := -1
	for i := range s.keys {
		eq := subtle.ConstantTimeCompare(sum[:], s.keys[i].hash[:])
		idx = subtle.ConstantTimeSelect(eq, i, idx)
	}
	if idx < 0 {
		return key{}, false
	}
	return s.keys[idx], true
}

// authorize authenticates and authorizes a call to fullMethod and returns
// the context for the handler.
func (a *Authenticator) authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	if Exempt(fullMethod) {
		return ctx, nil
	}
	st := a.state.Load()
	ks := st.keys
	c, err := a.authenticate(ctx, ks)
	if err != nil {
		a.log.Info("API call rejected: no valid API key", zap.String("method", fullMethod), zap.String("reason", status.Convert(err).Message()))
		return ctx, err
	}
	if ks == nil {
		// Open mode: everything passes.
		return ContextWithCaller(ctx, c), nil
	}
	if c.Session != nil {
		m := strings.TrimPrefix(fullMethod, notifierService)
		if !strings.HasPrefix(fullMethod, notifierService) || !sessionMethods[m] {
			a.log.Info("API call rejected: method not open to browser sessions", zap.String("method", fullMethod))
			return ctx, status.Errorf(codes.PermissionDenied, "a browser session may not call %s: it allows only GetLinkURL, CreateLinkToken, GetStatus, WatchStatus, Unlink and the QR code, for its own user", m)
		}
		return ContextWithCaller(ctx, c), nil
	}
	need, ok := RequiredScopes(fullMethod)
	if !ok {
		a.log.Warn("API call rejected: method not open to API keys", zap.String("caller", c.Name), zap.String("method", fullMethod))
		return ctx, status.Errorf(codes.PermissionDenied, "API key %q may not call %s", c.Name, fullMethod)
	}
	if !slices.ContainsFunc(need, c.Has) {
		a.log.Warn("API call rejected: missing scope", zap.String("caller", c.Name), zap.String("method", fullMethod))
		return ctx, status.Errorf(codes.PermissionDenied, "API key %q lacks scope %s required by %s",
			c.Name, quoteScopes(need), strings.TrimPrefix(fullMethod, notifierService))
	}
	if l := st.limiters[c.Name]; l != nil {
		if wait, ok := take(l.lim, a.now()); !ok {
			a.log.Debug("API call rejected: rate limit", zap.String("caller", c.Name), zap.String("method", fullMethod),
				zap.Duration("retry_after", wait))
			return ctx, rateLimited(c.Name, l.rate, wait)
		}
	}
	return ContextWithCaller(ctx, c), nil
}

// take takes one call's token from lim at now. When there is none it takes
// nothing and returns how long until there will be one.
func take(lim *rate.Limiter, now time.Time) (time.Duration, bool) {
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		// Only when the burst is below 1, which the keys file forbids.
		return time.Second, false
	}
	wait := r.DelayFrom(now)
	if wait == 0 {
		return 0, true
	}
	// A rejected call must not use up a later token.
	r.CancelAt(now)
	return wait, false
}

// rateLimited is the RESOURCE_EXHAUSTED status of a call over its key's
// rate, with a RetryInfo detail saying when to retry (whole milliseconds,
// rounded up); the REST mirror answers it with HTTP 429.
func rateLimited(name string, r keyRate, wait time.Duration) error {
	wait = max(time.Millisecond, (wait + time.Millisecond - 1).Truncate(time.Millisecond))
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("API key %q is over its rate limit of %s (burst %d); retry in %v",
		name, r.spec, r.burst, wait))
	if ds, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		return ds.Err()
	}
	return st.Err()
}

// quoteScopes renders scopes as `"link"` or `"link" or "notify"`.
func quoteScopes(s []Scope) string {
	q := make([]string, len(s))
	for i, sc := range s {
		q[i] = fmt.Sprintf("%q", string(sc))
	}
	return strings.Join(q, " or ")
}

// UnaryServerInterceptor returns an interceptor that authenticates and
// authorizes unary calls and stores the Caller in the handler's context.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if err := checkSessionUser(ctx, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that authenticates and
// authorizes streaming calls and stores the Caller in the stream's context.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
	}
}

// userRequest is a request naming the user it is about.
type userRequest interface{ GetUserId() string }

// botRequest is a request naming its bot ("" for "default").
type botRequest interface{ GetBot() string }

// checkSessionUser refuses, with PERMISSION_DENIED, a request of a browser
// session caller in ctx that is not about the session's own user. Calls of
// other callers pass.
func checkSessionUser(ctx context.Context, req any) error {
	c, ok := CallerFromContext(ctx)
	if !ok || c.Session == nil {
		return nil
	}
	r, ok := req.(userRequest)
	if !ok || r.GetUserId() != c.Session.UserID {
		return status.Error(codes.PermissionDenied, "this browser session is for another user")
	}
	bot := "default"
	if b, ok := req.(botRequest); ok && b.GetBot() != "" {
		bot = b.GetBot()
	}
	if bot != c.Session.Bot {
		return status.Error(codes.PermissionDenied, "this browser session is for another bot")
	}
	return nil
}

// SessionFromContext returns the browser session of the call in ctx, if
// its caller presented one.
func SessionFromContext(ctx context.Context) (Session, bool) {
	c, ok := CallerFromContext(ctx)
	if !ok || c.Session == nil {
		return Session{}, false
	}
	return *c.Session, true
}

// serverStream overrides the context of a grpc.ServerStream and checks
// the user of each received request of a browser session.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the context carrying the Caller.
func (s *serverStream) Context() context.Context { return s.ctx }

// RecvMsg receives a request and refuses one about another user than the
// session's.
func (s *serverStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return checkSessionUser(s.ctx, m)
}
