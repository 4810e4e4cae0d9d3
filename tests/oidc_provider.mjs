// A real OpenID Connect provider for the single sign-on tests: the certified `oidc-provider` package (installed
// into node_modules by scripts/assets.sh from package.json's devDependencies), configured here as a small
// identity provider of our own, the way NHSmail / Entra ID plays that part in production.
//
//   node tests/oidc_provider.mjs            listens on a free port of 127.0.0.1 and prints one line of JSON,
//                                           {"issuer": "http://127.0.0.1:PORT"}, once it answers requests
//
// Environment:
//   OIDC_TEST_SECRET        the client secret of every client below
//   OIDC_TEST_CLOCK_OFFSET  seconds this provider's clock is off (negative: behind). A provider whose clock is half
//                           an hour behind issues ID tokens (valid 5 minutes) that expired, by the relying party's
//                           clock, long ago; its cookies (an hour for an interaction or a session) still live.
//
// Clients (both confidential, client_secret_basic, PKCE required):
//   accreditation                 the application as registered; redirect URI http://127.0.0.1/login/sso/callback
//                                 on any port (a loopback redirect URI: RFC 8252 7.3, "native" application type)
//   accreditation-misregistered   a registration whose record carries another client id (an Application ID URI,
//                                 as Entra ID can put in `aud`): the ID tokens it gets name that audience, not the
//                                 client id the application asked with
//
// People (password "provider-password"; the one-time code "246810" makes the sign-in multi-factor: amr gets
// "mfa" and "otp" and acr becomes MFA_ACR):  see ACCOUNTS.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const offset = Number(process.env.OIDC_TEST_CLOCK_OFFSET || '0');
if (offset) {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + offset * 1000;
}

const SECRET = process.env.OIDC_TEST_SECRET || 'provider-test-secret-not-for-production';
const PASSWORD = 'provider-password';
const ONE_TIME_CODE = '246810';
const PWD_ACR = 'urn:test:acr:password';
const MFA_ACR = 'urn:test:acr:mfa';
const REDIRECT_URI = 'http://127.0.0.1/login/sso/callback';
const ALIASED_AUDIENCE = 'api://accreditation';

const ACCOUNTS = {
  'lead@alliance.test': { sub: 'entra-oid-lead', name: 'Alliance Lead', email_verified: true },
  'lead.rn7@nhs.test': { sub: 'entra-oid-member-a', name: 'Member A', email_verified: true },
  'lead.rjz@nhs.test': { sub: 'entra-oid-member-b', name: 'Member B', email_verified: false },
  'admin@alliance.test': { sub: 'entra-oid-admin', name: 'Operator', email_verified: true },
  'stranger@nhs.test': { sub: 'entra-oid-stranger', name: 'No Account Here', email_verified: true },
};

const CLIENT = {
  client_secret: SECRET,
  application_type: 'native',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
};

// The storage of the provider's models (sessions, interactions, grants, codes, tokens) in memory, and the
// client registrations. `oidc-provider` asks an adapter for a client it does not hold as a static one.
const stores = new Map();
function storeOf(model) {
  if (!stores.has(model)) stores.set(model, new Map());
  return stores.get(model);
}

class MemoryAdapter {
  constructor(model) {
    this.model = model;
    this.store = storeOf(model);
  }

  async upsert(id, payload, expiresIn) {
    this.store.set(id, { payload: { ...payload }, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null });
  }

  async find(id) {
    if (this.model === 'Client') {
      if (id === 'accreditation') return { ...CLIENT, client_id: 'accreditation' };
      // One registration found by either identifier, whose record names the second: what it issues names that.
      if (id === 'accreditation-misregistered' || id === ALIASED_AUDIENCE) return { ...CLIENT, client_id: ALIASED_AUDIENCE };
      return undefined;
    }
    const found = this.store.get(id);
    if (!found || (found.expiresAt !== null && found.expiresAt < Date.now())) return undefined;
    return found.payload;
  }

  async findByUid(uid) {
    for (const [id, { payload }] of this.store) if (payload.uid === uid) return this.find(id);
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, { payload }] of this.store) if (payload.userCode === userCode) return this.find(id);
    return undefined;
  }

  async consume(id) {
    const found = this.store.get(id);
    if (found) found.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [model] of stores) {
      for (const [id, { payload }] of storeOf(model)) if (payload.grantId === grantId) storeOf(model).delete(id);
    }
  }
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-signing-key', use: 'sig', alg: 'RS256' };

const configuration = {
  adapter: MemoryAdapter,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  acrValues: [PWD_ACR, MFA_ACR],
  // acr and amr with every ID token (as Entra ID sends amr), not only when the request asks for them.
  claims: { openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false, // the claims of the scopes in the ID token itself, as Entra ID sends them
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 300, Interaction: 3600, Session: 3600, Grant: 3600 },
  async findAccount(ctx, id) {
    const account = Object.entries(ACCOUNTS).find(([, person]) => person.sub === id);
    if (!account) return undefined;
    const [email, person] = account;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email, email_verified: person.email_verified, name: person.name };
      },
    };
  },
};

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body><h1>${title}</h1>${body}</body></html>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function formOf(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

function loginForm(uid, problem = '') {
  return page('Sign in to the test identity provider', `
    ${problem ? `<p role="alert" id="problem">${escape(problem)}</p>` : ''}
    <form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
      <label for="login">Email address</label> <input id="login" name="login" type="email">
      <label for="password">Password</label> <input id="password" name="password" type="password">
      <label for="code">One-time code (optional)</label> <input id="code" name="code" inputmode="numeric">
      <button type="submit">Sign in to the provider</button>
    </form>
    <form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`);
}

function send(res, status, html) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(html);
}

async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    if (req.method === 'GET') return send(res, 200, loginForm(uid));
    if (action === 'abort') {
      const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }
    if (action !== 'login') return send(res, 404, page('Not found', ''));
    const form = await formOf(req);
    const email = (form.get('login') || '').trim().toLowerCase();
    const person = ACCOUNTS[email];
    if (!person || form.get('password') !== PASSWORD) {
      return send(res, 200, loginForm(uid, 'Unknown email address or wrong password'));
    }
    const code = (form.get('code') || '').trim();
    if (code && code !== ONE_TIME_CODE) return send(res, 200, loginForm(uid, 'Wrong one-time code'));
    const login = code
      ? { accountId: person.sub, amr: ['pwd', 'otp', 'mfa'], acr: MFA_ACR }
      : { accountId: person.sub, amr: ['pwd'], acr: PWD_ACR };
    return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'consent') {
    // The application is the provider's own first party: consent is given by the organisation, as an
    // administrator's consent is in Entra ID.
    const client = await provider.Client.find(params.client_id); // its client id as registered (see above)
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    if (client.clientId !== params.client_id) {
      // The provider keeps a session's grants by the client id asked with, and finds them again by the one its
      // record names: with one registration under two identifiers, it is told of the grant under both.
      const stored = await provider.Session.find(session.cookie);
      stored.ensureClientContainer(client.clientId);
      stored.grantIdFor(client.clientId, grantId);
      await stored.persist();
    }
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return send(res, 400, page('Unexpected prompt', escape(prompt.name)));
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, error) => process.stderr.write(`oidc-provider server_error: ${error.stack}\n`));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const path = new URL(req.url, issuer).pathname;
    const match = path.match(/^\/interaction\/([^/]+)(?:\/([a-z]+))?$/);
    if (!match) return callback(req, res);
    return interaction(provider, req, res, match[1], match[2]).catch((error) => {
      send(res, 400, page('Interaction failed', escape(error.message)));
    });
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
