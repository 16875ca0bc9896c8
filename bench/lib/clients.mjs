// The apps the benchmark plays, registered the same way with the broker and the reference.
export const APP = {
  client_id: 'bench-web',
  client_secret: 'bench-web-secret-0123456789abcdef',
  redirect_uri: 'http://127.0.0.1:5999/cb',
};
export const MACHINE = {
  client_id: 'bench-machine',
  client_secret: 'bench-machine-secret-0123456789abcdef',
};
export const UPSTREAM = {
  client_id: 'broker',
  client_secret: 'broker-upstream-secret-0123456789abcdef',
};

export const BROKER_CLIENTS = [
  {
    client_id: APP.client_id,
    client_secret: APP.client_secret,
    redirect_uris: [APP.redirect_uri],
    first_party: true,
  },
  {
    client_id: MACHINE.client_id,
    client_secret: MACHINE.client_secret,
    grant_types: ['client_credentials'],
    scope: 'api:read api:write',
    resources: ['https://api.example/rs256', 'https://api.example/es256'],
  },
];

export const REFERENCE_CLIENTS = [
  {
    client_id: APP.client_id,
    client_secret: APP.client_secret,
    redirect_uris: [APP.redirect_uri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    client_id: MACHINE.client_id,
    client_secret: MACHINE.client_secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'api:read api:write',
  },
];
