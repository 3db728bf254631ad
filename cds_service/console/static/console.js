// The console: build a hook request from a fixture, POST it to the service, render the cards,
// and send feedback. Card text goes into the page through textContent, or through
// renderMarkdown, which escapes everything first.
import { renderMarkdown } from "./markdown.js";

const $ = (id) => document.getElementById(id);
const state = { catalog: null, services: {}, lastService: null, lastPatient: null, ordersFor: null };

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function problems(body) {
  const issues = (body && body.issue) || [];
  const lines = issues.map((i) => i.diagnostics).filter(Boolean);
  return lines.length ? lines : ["no details"];
}

function problemText(body) {
  return problems(body).join(" ");
}

async function getJson(url, options = {}) {
  const response = await fetch(url, options);
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { status: response.status, ok: response.ok, body, text };
}

function fillOrders() {
  const scenario = state.catalog.scenarios.find((s) => s.name === $("scenario").value);
  const hook = $("hook").value;
  const select = $("order");
  // A scenario with its own draft orders starts with them; otherwise the last choice stays.
  const previous = select.value;
  const newScenario = scenario.name !== state.ordersFor;
  state.ordersFor = scenario.name;
  select.replaceChildren();
  if ((scenario.ownOrders || []).length) {
    select.append(element("option", { value: "scenario", text: "The scenario's own draft orders" }));
  }
  for (const order of state.catalog.orders) {
    select.append(element("option", { value: order.key, text: order.label }));
  }
  if (newScenario && (scenario.ownOrders || []).length) select.value = "scenario";
  else if ([...select.options].some((o) => o.value === previous)) select.value = previous;
  select.disabled = hook === "patient-view";
  $("story").textContent = `${scenario.patient}. ${scenario.story}`;
}

async function buildRequest() {
  fillOrders();
  const params = new URLSearchParams({ scenario: $("scenario").value, hook: $("hook").value });
  if ($("hook").value !== "patient-view") params.set("order", $("order").value);
  $("send").disabled = true;
  const result = await getJson(`/console/api/request?${params}`);
  if (!result.ok) {
    setStatus(`Could not build the request: ${problemText(result.body)}`, true);
    return;
  }
  $("request").value = pretty(result.body);
  $("send").disabled = false;
  setStatus("Request ready. Send it to see the cards.");
}

async function sendRequest() {
  let payload;
  try {
    payload = JSON.parse($("request").value);
  } catch (error) {
    setStatus(`The request JSON does not parse: ${error.message}`, true);
    return;
  }
  const serviceId = state.services[payload.hook] || state.services[$("hook").value];
  state.lastPatient = payload.context && payload.context.patientId;
  state.lastService = serviceId;
  $("send").disabled = true;
  setStatus(`POST /cds-services/${serviceId} …`);
  const started = performance.now();
  let result;
  try {
    result = await getJson(`/cds-services/${encodeURIComponent(serviceId)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
    });
  } catch (error) {
    setStatus(`The service did not answer: ${error.message}`, true);
    $("send").disabled = false;
    return;
  }
  const elapsed = Math.round(performance.now() - started);
  $("send").disabled = false;
  $("response").textContent = result.body ? pretty(result.body) : result.text;
  if (!result.ok) {
    setStatus(`HTTP ${result.status} in ${elapsed} ms: ${problemText(result.body)}`, true);
    $("cards").replaceChildren(
      element("ul", { class: "problem" }, ...problems(result.body).map((text) => element("li", { text }))),
    );
    return;
  }
  const cards = result.body.cards || [];
  setStatus(`HTTP ${result.status} in ${elapsed} ms: ${cards.length} card(s).`);
  renderCards(cards);
}

function renderCards(cards) {
  const container = $("cards");
  if (!cards.length) {
    container.replaceChildren(
      element("p", { class: "empty", text: "No cards: nothing for this service to say here." }),
    );
    return;
  }
  container.replaceChildren(...cards.map(renderCard));
}

function safeHref(url) {
  return /^https?:\/\//i.test(url || "") ? url : null;
}

function renderSource(source) {
  const line = element("p", { class: "source" });
  const href = safeHref(source.url);
  line.append(
    href
      ? element("a", { href, target: "_blank", rel: "noopener noreferrer", text: source.label })
      : source.label,
  );
  if (source.topic) line.append(` · topic ${source.topic.display || source.topic.code}`);
  return line;
}

function renderCard(card) {
  const indicator = ["info", "warning", "critical"].includes(card.indicator)
    ? card.indicator
    : "info";
  const feedback = element("p", { class: "feedback", role: "status" });
  const node = element(
    "article",
    {
      class: `card ${indicator}`,
      "data-uuid": card.uuid || "",
      "data-topic": card.source?.topic?.code || "",
    },
    element(
      "h3",
      {},
      element("span", { class: "indicator", text: indicator }),
      element("span", { class: "summary", text: card.summary }),
    ),
    renderSource(card.source || { label: "unknown source" }),
  );
  if (card.detail) {
    const detail = element("div", { class: "detail" });
    detail.innerHTML = renderMarkdown(card.detail);
    node.append(detail);
  }
  if ((card.suggestions || []).length) node.append(renderSuggestions(card, feedback));
  if ((card.links || []).length) node.append(renderLinks(card.links));
  node.append(renderDismiss(card, feedback), feedback);
  if (card.extension) {
    node.append(
      element(
        "details",
        { class: "assessment" },
        element("summary", { text: "Assessment (card.extension)" }),
        element("pre", { text: pretty(card.extension) }),
      ),
    );
  }
  return node;
}

function renderSuggestions(card, feedback) {
  const wrapper = element("div");
  const buttons = element("div", { class: "suggestions" });
  const preview = element("div");
  for (const suggestion of card.suggestions) {
    const label = suggestion.isRecommended ? `★ ${suggestion.label}` : suggestion.label;
    buttons.append(
      element("button", {
        type: "button",
        class: `suggestion${suggestion.isRecommended ? " recommended" : ""}`,
        text: label,
        onclick: () => preview.replaceChildren(renderPreview(card, suggestion, feedback)),
      }),
    );
  }
  wrapper.append(buttons, preview);
  return wrapper;
}

function renderPreview(card, suggestion, feedback) {
  const box = element("div", { class: "preview" });
  box.append(element("h4", { text: suggestion.label }));
  for (const action of suggestion.actions || []) {
    const target = action.resource
      ? action.resource.resourceType
      : action.resourceId || "a resource";
    box.append(element("p", { text: `${action.type} ${target}: ${action.description || ""}` }));
    if (action.resource) box.append(element("pre", { text: pretty(action.resource) }));
  }
  if (!suggestion.uuid) {
    box.append(element("p", { class: "empty", text: "This suggestion has no uuid, so it cannot be accepted." }));
    return box;
  }
  box.append(
    element("button", {
      type: "button",
      class: "primary accept",
      text: "Accept this suggestion",
      onclick: () =>
        sendFeedback(card, { outcome: "accepted", acceptedSuggestions: [{ id: suggestion.uuid }] }, feedback),
    }),
  );
  return box;
}

// An EHR opens a smart link with its FHIR server (iss) and a launch id; the console does the
// same through `make fhir-server`'s SMART test double, whose launch id is the patient's id.
function smartHref(url) {
  const iss = state.catalog && state.catalog.smartIss;
  if (!safeHref(url) || !iss || !state.lastPatient) return null;
  const query = new URLSearchParams({ iss, launch: state.lastPatient });
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

function renderLinks(links) {
  const list = element("div", { class: "links" });
  for (const link of links) {
    const href = link.type === "smart" ? smartHref(link.url) : safeHref(link.url);
    const label = link.type === "smart" ? `${link.label} (SMART app)` : link.label;
    list.append(
      href
        ? element("a", { href, target: "_blank", rel: "noopener noreferrer", text: label })
        : element("span", { text: label }),
    );
  }
  return list;
}

function renderDismiss(card, feedback) {
  const wrapper = element("div");
  const form = element("div", { class: "dismiss", hidden: "" });
  const reasons = element("select", { "aria-label": "Override reason" });
  reasons.append(element("option", { value: "", text: "No reason given" }));
  (card.overrideReasons || []).forEach((reason, index) =>
    reasons.append(element("option", { value: String(index), text: reason.display || reason.code })),
  );
  const comment = element("input", { type: "text", placeholder: "Comment (optional)", "aria-label": "Comment" });
  form.append(
    reasons,
    comment,
    element("button", {
      type: "button",
      class: "confirm-dismiss",
      text: "Send dismissal",
      onclick: () => {
        const override = {};
        if (reasons.value !== "") override.reason = card.overrideReasons[Number(reasons.value)];
        if (comment.value.trim()) override.userComment = comment.value.trim();
        const item = { outcome: "overridden" };
        if (Object.keys(override).length) item.overrideReason = override;
        sendFeedback(card, item, feedback);
      },
    }),
  );
  wrapper.append(
    element("div", { class: "actions" },
      element("button", { type: "button", class: "dismiss-card", text: "Dismiss…", onclick: () => form.toggleAttribute("hidden") }),
    ),
    form,
  );
  return wrapper;
}

async function sendFeedback(card, item, feedback) {
  if (!card.uuid) {
    feedback.textContent = "This card has no uuid, so feedback cannot be sent.";
    feedback.classList.add("error");
    return;
  }
  const body = { feedback: [{ card: card.uuid, ...item, outcomeTimestamp: new Date().toISOString() }] };
  const result = await getJson(`/cds-services/${encodeURIComponent(state.lastService)}/feedback`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  feedback.classList.toggle("error", !result.ok);
  feedback.textContent = result.ok
    ? `Feedback stored: ${item.outcome} (HTTP ${result.status}).`
    : `Feedback refused (HTTP ${result.status}): ${problemText(result.body)}`;
}

async function start() {
  const result = await getJson("/console/api/scenarios");
  if (!result.ok) {
    setStatus(`Could not load the fixtures: ${problemText(result.body)}`, true);
    return;
  }
  state.catalog = result.body;
  state.services = result.body.services;
  $("today").textContent = result.body.today;
  for (const scenario of result.body.scenarios) {
    $("scenario").append(
      element("option", { value: scenario.name, text: `${scenario.name}: ${scenario.story}` }),
    );
  }
  const preferred = new URLSearchParams(window.location.search);
  const choose = (key) => {
    const wanted = preferred.get(key);
    if (wanted && [...$(key).options].some((o) => o.value === wanted)) $(key).value = wanted;
  };
  choose("scenario");
  choose("hook");
  fillOrders();
  choose("order");
  for (const id of ["scenario", "hook", "order"]) $(id).addEventListener("change", buildRequest);
  $("send").addEventListener("click", sendRequest);
  await buildRequest();
}

start();
