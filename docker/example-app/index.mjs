// The example application of docker/compose.yaml: the official openai SDK with only the base URL
// pointed at the costgate sidecar (OPENAI_BASE_URL=http://localhost:8080/v1). It tags its calls
// for cost attribution and prints what each one cost, once a minute.
import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: process.env.OPENAI_BASE_URL ?? 'http://localhost:8080/v1',
  apiKey: 'unused', // costgate sends each backend the key its config names
  defaultHeaders: {
    'x-costgate-feature': process.env.APP_FEATURE ?? 'example',
    'x-costgate-team': process.env.APP_TEAM ?? 'platform',
    'x-costgate-env': process.env.APP_ENV ?? 'dev',
  },
});
const model = process.env.APP_MODEL ?? 'gpt-4o-mini';

for (;;) {
  try {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'Say hello in five words.' }] })
      .withResponse();
    console.log(data.choices[0].message.content, data.usage,
      'cost_usd', response.headers.get('x-costgate-cost-usd'),
      'cache', response.headers.get('x-costgate-cache'));
  } catch (error) {
    console.error('call failed:', error.message);
  }
  await new Promise((resolve) => setTimeout(resolve, 60_000));
}
