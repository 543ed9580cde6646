// One conversion as `hubserve convert` runs it (resolve, convert in a worker thread, copy out), in a
// process of its own so that its peak resident memory is the conversion's. Prints {maxRssBytes}.
import { exportConverted, hubSettingsFromEnv } from '../src/hub/index.ts';

const [source, out, dtype = 'fp32'] = process.argv.slice(2);
if (!source || !out) throw new Error('usage: convert-child.ts SOURCE OUT [DTYPE]');
await exportConverted(source, out, { dtype, settings: hubSettingsFromEnv() });
console.log(JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
