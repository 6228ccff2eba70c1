// Passkeys on Gatehouse pages (README "Passkeys"): the "Sign in with a passkey" button,
// passkey suggestions in the username field's autofill, and "Add a passkey" on
// /settings/security. A module from the site's own origin (the CSP allows 'self').
// Without JavaScript none of this runs, and the pages say passkeys need it: the passkey
// controls are shown only once this module has marked the page (`html.passkeys`).
//
// It speaks the four JSON endpoints of the README's "Passkeys" section: options in, the browser's WebAuthn call,
// the credential back out in the JSON form of `PublicKeyCredential.toJSON()`.

const root = document.documentElement;
root.classList.add('js');

const supported = typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
if (supported) {
  root.classList.add('passkeys');
}

// base64url <-> bytes, for browsers without the JSON helpers of WebAuthn level 3.
function fromBase64url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: (json.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    allowCredentials: (json.allowCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function credentialJson(credential) {
  if (typeof credential.toJSON === 'function') {
    return credential.toJSON();
  }
  const r = credential.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { ok: response.ok, status: response.status, data };
}

function showError(scope, message) {
  const box = scope.querySelector('[data-passkey-error]');
  if (box) {
    box.textContent = message;
    box.hidden = !message;
  }
}

// A WebAuthn call the user cancelled is not an error worth more than a short line.
function browserMessage(error) {
  if (error && error.name === 'NotAllowedError') {
    return 'The passkey request was cancelled or timed out.';
  }
  if (error && error.name === 'InvalidStateError') {
    return 'This device already holds a passkey for this account.';
  }
  return 'This browser could not use a passkey.';
}

// Sign-in. One pending request at a time: the autofill one (conditional mediation) is
// aborted when the button asks for the browser's own dialog.
let pendingAutofill = null;
// Set while the browser's dialog is up, and while autofill is being started.
let modalBusy = false;
let startingAutofill = false;
// The username field autofill was offered on: once per field, whatever came of it.
let autofillField = null;

async function signIn(scope, mediation) {
  let controller = null;
  if (mediation === 'conditional') {
    controller = new AbortController();
    pendingAutofill = controller;
  }
  try {
    const next = scope.getAttribute('data-next') || new URLSearchParams(location.search).get('next') || '';
    const options = await post('/auth/passkey/login/options', { next });
    if (controller && controller.signal.aborted) return;
    if (!options.ok) {
      if (!controller) showError(scope, options.data.error || 'Passkey sign-in is not available right now.');
      return;
    }
    const request = { publicKey: requestOptions(options.data.publicKey) };
    if (controller) {
      request.mediation = 'conditional';
      request.signal = controller.signal;
    }
    let credential;
    try {
      credential = await navigator.credentials.get(request);
    } catch (error) {
      if (!controller) showError(scope, browserMessage(error));
      return;
    }
    if (!credential) return;
    const answer = await post('/auth/passkey/login', credentialJson(credential));
    if (answer.ok && typeof answer.data.redirect === 'string' && answer.data.redirect.startsWith('/')) {
      location.assign(answer.data.redirect);
    } else {
      showError(scope, answer.data.error || 'The passkey could not be verified.');
    }
  } finally {
    if (controller && pendingAutofill === controller) pendingAutofill = null;
  }
}

async function offerAutofill() {
  if (!supported || pendingAutofill || modalBusy || startingAutofill) return;
  const field = document.querySelector('input[autocomplete~="webauthn"]');
  const button = document.querySelector('[data-passkey-login]');
  if (!field || !button || field === autofillField) return;
  if (typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') return;
  autofillField = field;
  startingAutofill = true;
  try {
    if (await PublicKeyCredential.isConditionalMediationAvailable()) {
      signIn(button.closest('[data-passkey-scope]') || document.body, 'conditional');
    }
  } finally {
    startingAutofill = false;
  }
}

async function addPasskey(scope) {
  const field = scope.querySelector('[data-passkey-name]');
  const name = field ? field.value : '';
  showError(scope, '');
  const options = await post('/auth/passkey/register/options', { name });
  if (!options.ok) {
    if (options.status === 403 && typeof options.data.reauth === 'string') {
      location.assign(options.data.reauth);
      return;
    }
    showError(scope, options.data.error || 'A passkey cannot be added right now.');
    return;
  }
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: creationOptions(options.data.publicKey) });
  } catch (error) {
    showError(scope, browserMessage(error));
    return;
  }
  const answer = await post('/auth/passkey/register', credentialJson(credential));
  if (answer.ok) {
    location.assign('/settings/security?done=added');
  } else {
    showError(scope, answer.data.error || 'The passkey could not be added.');
  }
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target || !supported) return;
  const login = target.closest('[data-passkey-login]');
  if (login) {
    event.preventDefault();
    if (pendingAutofill) pendingAutofill.abort();
    pendingAutofill = null;
    if (modalBusy) return;
    const scope = login.closest('[data-passkey-scope]') || document.body;
    showError(scope, '');
    modalBusy = true;
    signIn(scope, 'modal').finally(() => {
      modalBusy = false;
    });
    return;
  }
  const add = target.closest('[data-passkey-add]');
  if (add) {
    event.preventDefault();
    addPasskey(add.closest('[data-passkey-scope]') || document.body);
  }
});

// The app navigates without reloading: offer autofill whenever a sign-in form appears.
if (supported) {
  new MutationObserver(() => {
    if (!pendingAutofill) offerAutofill();
  }).observe(document.documentElement, { childList: true, subtree: true });
  offerAutofill();
}
