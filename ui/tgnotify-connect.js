// <tgnotify-connect api user-id session-token>: a framework-free "Connect
// Telegram" element for tgnotify. Served by the service at
// /ui/tgnotify-connect.js; no build step, no dependencies.
// Events: tgnotify-linked, tgnotify-unlinked, tgnotify-error (detail says
// more) and tgnotify-open (cancelable: detail.url is the deep link about to
// be opened). Texts: the text-* attributes. Theme: --tgnotify-* custom
// properties and ::part(container|status|error|connect|qr|help|disconnect).
const TEXTS = {
  connect: 'Connect Telegram',
  help: 'Scan with your phone, or press the button on a device with Telegram.',
  waiting: 'Waiting for you to press Start in Telegram…',
  connected: 'Connected as {name}',
  disconnect: 'Disconnect',
  loading: 'Loading…',
  expired: 'Your session has expired: reload the page to continue.',
  network: 'Cannot reach the notification service; retrying…',
  denied: 'This page may not do that (permission denied).',
  error: 'Something went wrong: {message}',
  'qr-alt': 'QR code of the Telegram link',
};
const POLL_MS = 2000;

const CSS = `
:host{--_accent:var(--tgnotify-accent,#2481cc);--_fg:var(--tgnotify-fg,#1c1c1e);--_bg:var(--tgnotify-bg,#fff);
--_muted:var(--tgnotify-muted,#5f6368);--_danger:var(--tgnotify-danger,#c62828);--_radius:var(--tgnotify-radius,10px);
display:block;font:var(--tgnotify-font,15px/1.4 system-ui,sans-serif);color:var(--_fg)}
@media (prefers-color-scheme:dark){:host{--_fg:var(--tgnotify-fg,#f2f2f7);--_bg:var(--tgnotify-bg,#1c1c1e);
--_muted:var(--tgnotify-muted,#aeaeb2);--_accent:var(--tgnotify-accent,#3ea6ff);--_danger:var(--tgnotify-danger,#ff6b6b)}}
.box{background:var(--_bg);border:1px solid color-mix(in srgb,var(--_fg) 15%,transparent);border-radius:var(--_radius);padding:16px}
.row{display:flex;gap:16px;align-items:center;flex-wrap:wrap}
button{font:inherit;border-radius:calc(var(--_radius) - 2px);padding:8px 16px;cursor:pointer;border:1px solid var(--_accent)}
button:focus-visible{outline:3px solid color-mix(in srgb,var(--_accent) 60%,transparent);outline-offset:2px}
button[disabled]{opacity:.6;cursor:progress}
.primary{background:var(--_accent);color:#fff}.secondary{background:transparent;color:var(--_accent)}
.status{margin:0 0 12px}.error{color:var(--_danger);margin:12px 0 0}.error:empty{display:none}
figure{margin:0;display:none;align-items:center;gap:12px}figure img{width:128px;height:128px;background:#fff;border-radius:4px}
figcaption{color:var(--_muted);max-width:16em;font-size:.9em}
@media (min-width:640px){figure{display:flex}}
[hidden]{display:none!important}`;

const enc = encodeURIComponent;

class TgnotifyConnect extends HTMLElement {
  static observedAttributes = ['api', 'user-id', 'session-token'];

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${CSS}</style><div class="box" part="container">
<p class="status" part="status" role="status" aria-live="polite"></p>
<div class="row" data-view="unlinked" hidden><button type="button" class="primary" part="connect" data-act="connect"></button>
<figure part="qr"><img alt=""><figcaption part="help"></figcaption></figure></div>
<div class="row" data-view="linked" hidden><button type="button" class="secondary" part="disconnect" data-act="disconnect"></button></div>
<p class="error" part="error" role="alert"></p></div>`;
    this.$ = (s) => root.querySelector(s);
    this.$('[data-act=connect]').addEventListener('click', () => this.#connect());
    this.$('[data-act=disconnect]').addEventListener('click', () => this.#disconnect());
    this.linked = null; // unknown until the first status
  }

  connectedCallback() { this.#schedule(); }
  disconnectedCallback() { this.#stop(); }
  attributeChangedCallback() { this.#schedule(); }

  // #schedule restarts once for a burst of attribute changes (an upgrade
  // sets them one by one).
  #schedule() {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => { this.pending = false; if (this.isConnected) this.#restart(); });
  }

  #t(key, vars = {}) {
    const s = this.getAttribute('text-' + key) ?? TEXTS[key];
    return s.replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '');
  }
  get #base() {
    const u = this.getAttribute('user-id') || '';
    return (this.getAttribute('api') || '').replace(/\/+$/, '') + '/v1/users/' + enc(u);
  }

  async #call(path, opts = {}) {
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    const tok = this.getAttribute('session-token');
    if (tok) headers.Authorization = 'Bearer ' + tok;
    let r;
    try {
      r = await fetch(this.#base + path, { ...opts, headers, signal: this.ctl.signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw Object.assign(new Error(this.#t('network')), { kind: 'network' });
    }
    if (r.ok) return r;
    let msg = r.statusText;
    try { msg = (await r.json()).message || msg; } catch { /* not JSON */ }
    const kind = r.status === 401 ? 'expired' : r.status === 403 ? 'denied' : 'error';
    const text = kind === 'error' ? this.#t('error', { message: msg }) : this.#t(kind);
    throw Object.assign(new Error(text), { kind, status: r.status, detail: msg });
  }
  async #json(path, opts) { return (await this.#call(path, opts)).json(); }

  #stop() {
    this.ctl?.abort();
    clearTimeout(this.pollTimer);
    clearTimeout(this.linkTimer);
    if (this.qrURL) URL.revokeObjectURL(this.qrURL);
    this.qrURL = null;
  }

  async #restart() {
    this.#stop();
    this.ctl = new AbortController();
    this.linked = null;
    this.waiting = false;
    this.#view('loading', this.#t('loading'));
    if (!this.getAttribute('user-id')) return this.#fail({ kind: 'error', message: this.#t('error', { message: 'no user-id' }) });
    try {
      this.#apply(await this.#json('/status'));
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.#fail(e);
      // The service may come back: try again.
      if (e.kind === 'network') this.pollTimer = setTimeout(() => this.#restart(), POLL_MS);
      return;
    }
    this.#watch();
  }

  // #watch follows WatchStatus (newline-delimited JSON); if the stream
  // cannot be read it polls GetStatus every 2 s, trying the stream again
  // now and then.
  async #watch() {
    const sig = this.ctl.signal;
    let failures = 0;
    while (!sig.aborted) {
      const started = Date.now();
      try {
        if (this.hasAttribute('no-stream') || !window.ReadableStream) throw new Error('no streaming');
        const r = await this.#call('/status:watch');
        const rd = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await rd.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            const m = JSON.parse(line);
            if (m.error) throw Object.assign(new Error(m.error.message), { kind: 'error', status: m.error.code });
            if (m.result) { this.#apply(m.result); failures = 0; }
          }
        }
        // A clean end: the session expired or the server restarts; the
        // next round tells which.
      } catch (e) {
        if (sig.aborted) return;
        if (e.kind === 'expired' || e.kind === 'denied') return this.#fail(e);
        failures++;
      }
      if (Date.now() - started < 1000 || failures > 0) await this.#poll(failures > 1 ? 15 : 1);
    }
  }

  // #poll polls GetStatus every 2 s, n times.
  async #poll(n) {
    for (let i = 0; i < n && !this.ctl.signal.aborted; i++) {
      await new Promise((ok) => { this.pollTimer = setTimeout(ok, POLL_MS); });
      if (this.ctl.signal.aborted) return;
      try {
        this.#apply(await this.#json('/status'));
      } catch (e) {
        if (e.name === 'AbortError') return;
        this.#fail(e, e.kind === 'network');
        if (e.kind !== 'network') return this.ctl.abort();
      }
    }
  }

  #apply(s) {
    this.$('.error').textContent = '';
    const was = this.linked;
    this.linked = !!s.linked;
    if (this.linked) {
      const name = s.username ? '@' + s.username : s.chat_title || s.title || 'chat ' + s.chat_id;
      this.#view('linked', this.#t('connected', { name }));
      this.waiting = false;
      clearTimeout(this.linkTimer);
      if (was !== true) this.#emit('tgnotify-linked', { userId: this.getAttribute('user-id'), username: s.username || '', chatId: s.chat_id });
      return;
    }
    this.#view('unlinked', this.waiting ? this.#t('waiting') : '');
    if (was !== false) {
      if (was === true) this.#emit('tgnotify-unlinked', { userId: this.getAttribute('user-id') });
      this.#refreshLink();
    }
  }

  // #refreshLink fetches the live deep link and its QR code, and again
  // shortly before the link's token expires.
  async #refreshLink() {
    clearTimeout(this.linkTimer);
    const btn = this.$('[data-act=connect]');
    this.url = null; // a used link must not be offered again
    btn.disabled = true;
    try {
      const l = await this.#json('/link-url');
      this.url = l.url;
      btn.disabled = false;
      const ms = Date.parse(l.expires_at) - Date.now() - 5000;
      this.linkTimer = setTimeout(() => { if (this.linked === false) this.#refreshLink(); }, Math.max(1000, Math.min(ms, 2 ** 31 - 1)));
      const img = this.$('img');
      img.alt = this.#t('qr-alt');
      const blob = await (await this.#call('/link-qr.svg?size=256')).blob();
      if (this.qrURL) URL.revokeObjectURL(this.qrURL);
      img.src = this.qrURL = URL.createObjectURL(blob);
    } catch (e) {
      if (e.name !== 'AbortError') this.#fail(e, e.kind === 'network');
    }
  }

  #connect() {
    if (!this.url) return;
    const ev = this.#emit('tgnotify-open', { url: this.url }, true);
    if (ev) window.open(this.url, '_blank', 'noopener');
    this.waiting = true;
    this.#view('unlinked', this.#t('waiting'));
  }

  async #disconnect() {
    const b = this.$('[data-act=disconnect]');
    b.disabled = true;
    try {
      await this.#call('/link', { method: 'DELETE' });
      this.#apply({ linked: false });
    } catch (e) {
      this.#fail(e, true);
    } finally { b.disabled = false; }
  }

  #view(state, status) {
    this.setAttribute('state', state);
    this.$('.status').textContent = status;
    this.$('[data-view=unlinked]').hidden = state !== 'unlinked';
    this.$('[data-view=linked]').hidden = state !== 'linked';
    this.$('[data-act=connect]').textContent = this.#t('connect');
    this.$('[data-act=disconnect]').textContent = this.#t('disconnect');
    this.$('figcaption').textContent = this.#t('help');
  }

  // #fail shows e in words; a passing problem (keep) leaves the view.
  #fail(e, keep = false) {
    if (!keep) this.#view('error', '');
    this.$('.error').textContent = e.message;
    this.#emit('tgnotify-error', { kind: e.kind || 'error', status: e.status || 0, message: e.message });
  }

  #emit(type, detail, cancelable = false) {
    return this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true, cancelable }));
  }
}

if (!customElements.get('tgnotify-connect')) customElements.define('tgnotify-connect', TgnotifyConnect);
export { TgnotifyConnect };
