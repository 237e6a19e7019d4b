// Talking to the JSON API. Every page renders what one endpoint returns.

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

async function handle(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, body && body.type ? body.type : "HTTPError", message);
  }
  return body;
}

export async function getJSON(path, params = {}) {
  return handle(await fetch(withParams(path, params)));
}

export async function postJSON(path, body) {
  return handle(
    await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

export function withParams(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export function tablePath(name) {
  return `/api/tables/${encodeURIComponent(name)}`;
}
