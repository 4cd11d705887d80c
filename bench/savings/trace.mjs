// The savings harness's traffic (docs/benchmarks.md, "Savings on realistic traffic"): a seeded
// trace of three features as a team would send them, and the difficulty table the mock's realistic
// mode (costgate-mock --savings-table) answers by.
//
//   node bench/savings/trace.mjs [--requests N] [--seed S] --out DIR
//     writes DIR/trace.json and DIR/table.json
//
// - support: an FAQ bot. ~60 questions, each with several paraphrases, asked by popularity (so
//   many exact and paraphrased repeats), 1-2 turns, short answers, a third streamed. Look-alike
//   pairs (a dose for a dog or a child, Windows or macOS, the 2023 or 2024 price) are different
//   questions that must not share an answer.
// - coding: an assistant. Conversations of 5-30 turns after a system prompt, pasted source files
//   and logs (500-6,000 words each), easy questions (rename, explain, docstring, format) and hard
//   ones (a race, a deadlock, optimize), whole-file rewrites wanting 1,500-3,000 tokens, now and
//   then the same user message sent twice in a row; per conversation max_tokens 800, 700 or none
//   and streaming or not. About 85% of what calling the strong model directly costs.
// - triage: JSON extraction (response_format json_schema with required keys) over ticket texts,
//   with repeats; mostly easy.
// About a quarter of the requests are hard. A conversation is a list of turns: the replay sends
// each turn with the whole history, the assistant answers as the client received them included.
//
// The table is keyed by the SHA-256 of the normalized last user message (whitespace runs
// collapsed, trimmed): {id, hard, failure, answer_tokens}. Nothing in the text says how hard it is.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { prng } from '../../tests/integration/prng.mjs';

export const normalize = (text) => text.replace(/[ \t\n\v\f\r]+/g, ' ').trim();
export const tableKey = (text) => createHash('sha256').update(normalize(text)).digest('hex');
// The token the mock puts in an answer to question `id` (include/costgate/mock/savings.h).
export const answerToken = (id, right) =>
  'ref-' + createHash('sha256').update(id + (right ? 'right' : 'wrong')).digest('hex').slice(0, 12);

// Shares of the requests per feature; the spend follows from the shapes below.
const kShares = { support: 0.43, coding: 0.28, triage: 0.29 };

// ---- support ----

// [verb phrase, object] pairs; look-alikes differ in one word that changes the answer.
const kFaq = [
  ['reset my password', 'on Windows'], ['reset my password', 'on macOS'],
  ['give ibuprofen', 'to my dog, how much per kilo'], ['give ibuprofen', 'to my child, how much per kilo'],
  ['find the price of the Pro plan', 'in 2023'], ['find the price of the Pro plan', 'in 2024'],
  ['cancel my subscription', 'before the trial ends'], ['cancel my subscription', 'after the trial ends'],
  ['export my data', 'as CSV'], ['export my data', 'as PDF'],
  ['change the email', 'on my account'], ['add a second user', 'to a team plan'],
  ['get a refund', 'for a duplicate charge'], ['update my billing address', 'for invoices'],
  ['enable two-factor authentication', 'with an app'], ['disable two-factor authentication', 'after losing my phone'],
  ['connect the calendar', 'to Google'], ['connect the calendar', 'to Outlook'],
  ['delete my account', 'permanently'], ['merge two accounts', 'with different emails'],
  ['download the desktop app', 'for Linux'], ['install the mobile app', 'on Android'],
  ['set up single sign-on', 'with Okta'], ['invite guests', 'to a shared folder'],
  ['restore a deleted file', 'from the trash'], ['recover an old version', 'of a document'],
  ['change the language', 'of the interface'], ['turn off email notifications', 'for comments'],
  ['upgrade to the Business plan', 'mid-cycle'], ['downgrade to the Free plan', 'without losing files'],
  ['pay by invoice', 'instead of card'], ['apply a discount code', 'at checkout'],
  ['see my invoices', 'from last year'], ['change the currency', 'of my bill'],
  ['transfer ownership', 'of a workspace'], ['leave a workspace', 'I was invited to'],
  ['increase the storage limit', 'of my plan'], ['check the upload limit', 'for a single file'],
  ['share a link', 'that expires'], ['password-protect a link', 'to a folder'],
  ['use the API', 'with a personal token'], ['rotate an API key', 'without downtime'],
  ['find the status page', 'for outages'], ['report a bug', 'in the editor'],
  ['print a document', 'with comments'], ['scan a receipt', 'with the phone app'],
  ['sync files', 'on a metered connection'], ['pause syncing', 'for one folder'],
  ['get a student discount', 'with a university email'], ['get a nonprofit discount', 'for a charity'],
  ['change the time zone', 'of reminders'], ['set working hours', 'for the team'],
  ['import contacts', 'from a CSV file'], ['block a user', 'from a shared folder'],
  ['set a retention policy', 'for deleted files'], ['audit who opened', 'a shared document'],
  ['move files', 'between workspaces'], ['archive a project', 'without deleting it'],
  ['contact support', 'by phone'], ['request a feature', 'for the mobile app'],
];
const kFaqTemplates = [
  (v, o) => `How do I ${v} ${o}?`,
  (v, o) => `how can i ${v} ${o}`,
  (v, o) => `What's the way to ${v} ${o}?`,
  (v, o) => `Hi, quick question: I need to ${v} ${o}. How?`,
  (v, o) => `Can you tell me how to ${v} ${o}, please?`,
  (v, o) => `I want to ${v} ${o} - what are the steps?`,
];
const kSupportSystem =
  'You are the help assistant of Acme Drive. Answer in three sentences or fewer, in plain words, ' +
  'and link to the help center when a setting is involved. Never guess prices or doses.';

// ---- coding ----

const kCodingSystem = [
  'You are a senior engineer pairing with the user on their codebase. Read the pasted files and',
  'logs carefully, quote the lines you refer to, and prefer small diffs over rewrites unless the',
  'user asks for a whole file. When you are unsure, say what you would check. Use the language',
  'and style of the pasted code. Explain the cause before the fix. Keep answers focused; the user',
  'reads them in an editor side panel with limited width.',
].join(' ');
const kIdentifiers = ['queue', 'worker', 'session', 'buffer', 'ledger', 'cache', 'socket', 'batch',
  'order', 'invoice', 'token', 'lease', 'cursor', 'frame', 'record', 'shard', 'tenant', 'span'];
const kEasyQuestions = [
  (f) => `Rename ${f} to something clearer and update its callers.`,
  (f) => `What does the second line of ${f} do?`,
  (f) => `Add a docstring to ${f}.`,
  (f) => `Format ${f} the way the rest of the file is formatted.`,
  (f) => `Explain the return value of ${f} in one paragraph.`,
  (f) => `Is the error handling in ${f} consistent with the rest of the file?`,
  (f) => `Add type hints to the parameters of ${f}.`,
];
const kHardQuestions = [
  (f) => `There is a race somewhere around ${f}: two workers sometimes process the same item. Find it.`,
  (f) => `Why does this deadlock under load? It hangs in ${f} after a few minutes.`,
  (f) => `Optimize ${f}; it dominates the profile when the batch is large.`,
  (f) => `The log above shows a leak that grows per request. Which object in ${f} keeps it alive?`,
  (f) => `Under retries the totals from ${f} are off by one now and then. What is the bug?`,
];

function codeFile(rand, words) {
  const lines = [];
  let count = 0;
  const name = () => rand.pick(kIdentifiers) + '_' + rand.pick(kIdentifiers);
  while (count < words) {
    const fn = name();
    const block = [
      `def ${fn}(self, ${rand.pick(kIdentifiers)}, ${rand.pick(kIdentifiers)}=None):`,
      `    """${fn.replace('_', ' ')} for the current ${rand.pick(kIdentifiers)}."""`,
      `    with self._lock:`,
      `        item = self.${rand.pick(kIdentifiers)}.get(${rand.pick(kIdentifiers)}.id, None)`,
      `        if item is None or item.version < ${rand.int(90) + 1}:`,
      `            raise KeyError(f"missing ${rand.pick(kIdentifiers)} {${rand.pick(kIdentifiers)}.id}")`,
      `    for entry in self.${rand.pick(kIdentifiers)}s[:${rand.int(500) + 8}]:`,
      `        total = total + entry.amount * ${rand.int(9) + 1} if entry.open else total`,
      `    self._metrics.observe("${fn}", time.monotonic() - start)`,
      `    return ${rand.pick(kIdentifiers)}.${rand.pick(kIdentifiers)}(total)`,
      '',
    ];
    for (const line of block) {
      lines.push(line);
      count += line.split(/\s+/).filter(Boolean).length;
    }
  }
  return { text: lines.join('\n'), functions: lines.filter((l) => l.startsWith('def ')).map((l) => l.slice(4, l.indexOf('('))) };
}

function logText(rand, words) {
  const lines = [];
  let count = 0;
  while (count < words) {
    const ms = rand.int(900) + 10;
    const line = `2026-11-${String(rand.int(28) + 1).padStart(2, '0')}T${String(rand.int(24)).padStart(2, '0')}:${String(rand.int(60)).padStart(2, '0')}:${String(rand.int(60)).padStart(2, '0')}.${rand.int(1000)}Z ` +
      `${rand.pick(['INFO', 'INFO', 'WARN', 'ERROR', 'DEBUG'])} worker-${rand.int(16)} ${rand.pick(kIdentifiers)} id=${rand.int(1e6).toString(36)} took ${ms}ms queue_depth=${rand.int(300)}`;
    lines.push(line);
    count += line.split(/\s+/).length;
  }
  return lines.join('\n');
}

// ---- triage ----

const kTicketSchema = {
  type: 'json_schema',
  json_schema: {
    name: 'ticket',
    strict: true,
    schema: {
      type: 'object',
      properties: { category: { type: 'string' }, priority: { type: 'string' }, product: { type: 'string' }, summary: { type: 'string' } },
      required: ['category', 'priority', 'product', 'summary'],
      additionalProperties: false,
    },
  },
};
const kTriageSystem = 'Extract the ticket fields as JSON: category (billing, bug, account, other), priority (low, normal, urgent), product, and a one-line summary.';
const kProblems = ['was charged twice', 'cannot log in since the update', 'sees a blank page on export',
  'lost the files of a shared folder', 'gets error 502 when uploading', 'wants an invoice with a VAT number',
  'reports the mobile app crashes on start', 'asks to move the renewal date', 'cannot invite a colleague',
  'says sync stopped on one laptop'];
const kProducts = ['Drive', 'Docs', 'Mobile', 'Desktop', 'API', 'Billing portal'];
const kNames = ['Ana', 'Bilal', 'Chen', 'Dora', 'Emeka', 'Farah', 'Gus', 'Hana', 'Ivo', 'Jun'];

function ticketText(rand, n) {
  const who = rand.pick(kNames);
  const problem = rand.pick(kProblems);
  const product = rand.pick(kProducts);
  const filler = [];
  const words = 80 + rand.int(220);
  const pieces = ['I tried again this morning', 'the issue is still there', 'my manager needs this fixed',
    'we are on the team plan', 'the browser is up to date', 'I cleared the cache as the article says',
    'this started last week', 'please advise', 'nothing in the status page', 'order number ' + (10000 + rand.int(90000))];
  while (filler.join(' ').split(' ').length < words) filler.push(rand.pick(pieces) + '.');
  return `Ticket #${n} from ${who} (${product}): ${who} ${problem}. ${filler.join(' ')}`;
}

// ---- the trace ----

// `codingHard`: the share of coding questions that are hard (debugging a race, a deadlock, a leak,
// an optimization), besides whole-file rewrites (a tenth of the turns, half of them hard). 0.2
// makes about a quarter of the coding turns hard, as of the whole trace.
export function generateTrace({ requests = 2432, seed = 7, codingHard = 0.2 } = {}) {
  const rand = prng(seed);
  const table = {};
  const conversations = [];
  // One entry per distinct last user message; `hardOf` fixes a question's difficulty for all its
  // paraphrases.
  const addEntry = (text, id, hard, json, answerTokens) => {
    const key = tableKey(text);
    if (table[key]) return table[key];
    let failure = 'confident';
    if (hard && rand.float() >= 0.08) {
      failure = json ? rand.pick(['low_logprob', 'broken_json']) : rand.pick(['low_logprob', 'low_logprob', 'hedge']);
    }
    table[key] = { id, hard, failure, answer_tokens: answerTokens };
    return table[key];
  };

  // support
  // Every fourth question is hard, spread over popular and rare ones alike.
  const faqHard = kFaq.map((_, q) => q % 4 === 1);
  const faqLength = kFaq.map(() => 30 + rand.int(90));
  const popular = () => Math.min(kFaq.length - 1, Math.floor(kFaq.length * rand.float() ** 2.2));
  const supportTurn = () => {
    const q = popular();
    const [verb, object] = kFaq[q];
    const text = rand.pick(kFaqTemplates)(verb, object);
    addEntry(text, `support-${q}`, faqHard[q], false, faqLength[q]);
    return { user: text };
  };
  // coding
  const codingTurns = (conversation) => {
    const turns = [];
    const length = 5 + rand.int(26);
    let file = codeFile(rand, 500 + rand.int(5500));
    for (let t = 0; t < length; ++t) {
      const fn = rand.pick(file.functions);
      let paste = '';
      if (t === 0) {
        paste = 'Here is the file:\n```python\n' + file.text + '\n```\n';
      } else if (rand.float() < 0.12) {
        file = codeFile(rand, 500 + rand.int(5500));
        paste = 'Another file:\n```python\n' + file.text + '\n```\n';
      } else if (rand.float() < 0.12) {
        paste = 'The log:\n```\n' + logText(rand, 500 + rand.int(2500)) + '\n```\n';
      }
      const roll = rand.float();
      let question, hard, tokens;
      if (roll < 0.1) {
        question = `Rewrite the whole file with ${fn} split into smaller functions.`;
        hard = rand.float() < 0.5;
        tokens = 1500 + rand.int(1501);
      } else if (roll < 0.1 + codingHard) {
        question = rand.pick(kHardQuestions)(fn);
        hard = true;
        tokens = 300 + rand.int(700);
      } else {
        question = rand.pick(kEasyQuestions)(fn);
        hard = false;
        tokens = 150 + rand.int(450);
      }
      const text = paste + question;
      addEntry(text, `coding-${conversation}-${t}`, hard, false, tokens);
      turns.push({ user: text, double: rand.float() < 0.05 });
    }
    return turns;
  };
  // triage
  const tickets = [];
  const triageTurn = () => {
    if (tickets.length > 0 && rand.float() < 0.3) return { user: rand.pick(tickets) };
    const text = ticketText(rand, 1000 + tickets.length);
    tickets.push(text);
    addEntry(text, `triage-${tickets.length}`, rand.float() < 0.15, true, 20 + rand.int(40));
    return { user: text };
  };

  const target = { support: 0, coding: 0, triage: 0 };
  for (const f of Object.keys(kShares)) target[f] = Math.round(requests * kShares[f]);
  target.triage = requests - target.support - target.coding;
  const counts = { support: 0, coding: 0, triage: 0 };
  const remaining = () => Object.keys(target).filter((f) => counts[f] < target[f]);
  let n = 0;
  while (remaining().length > 0) {
    const feature = rand.pick(remaining());
    const left = target[feature] - counts[feature];
    let conversation;
    if (feature === 'support') {
      const turns = [supportTurn()];
      if (left > 1 && rand.float() < 0.3) turns.push(supportTurn());
      conversation = { feature, system: kSupportSystem, stream: rand.float() < 0.33, turns };
    } else if (feature === 'coding') {
      const turns = codingTurns(n).slice(0, left);
      conversation = {
        feature, system: kCodingSystem, stream: rand.float() < 0.5,
        max_tokens: rand.pick([800, 700, null]), prompt_cache_key: `coding-${n}`, turns,
      };
    } else {
      conversation = { feature, system: kTriageSystem, stream: false, response_format: kTicketSchema, turns: [triageTurn()] };
    }
    conversation.id = `c${n++}`;
    counts[feature] += conversation.turns.length;
    conversations.push(conversation);
  }
  return { seed, requests, conversations, table: { entries: table } };
}

// The messages of turn `t`: the system prompt, the history with the answers the client received,
// then the user message (twice when the client double-submitted it).
export function turnMessages(conversation, t, answers) {
  const messages = [{ role: 'system', content: conversation.system }];
  for (let i = 0; i < t; ++i) {
    messages.push({ role: 'user', content: conversation.turns[i].user });
    messages.push({ role: 'assistant', content: answers[i] ?? '' });
  }
  const turn = conversation.turns[t];
  messages.push({ role: 'user', content: turn.user });
  if (turn.double) messages.push({ role: 'user', content: turn.user });
  return messages;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = { requests: 2432, seed: 7, out: null };
  for (let i = 2; i < process.argv.length; i += 2) {
    const key = process.argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown argument ${process.argv[i]}`);
    args[key] = key === 'out' ? process.argv[i + 1] : Number(process.argv[i + 1]);
  }
  if (!args.out) throw new Error('--out DIR is required');
  const trace = generateTrace(args);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'table.json'), JSON.stringify(trace.table));
  delete trace.table;
  writeFileSync(join(args.out, 'trace.json'), JSON.stringify(trace));
}
