/** Writes src/protocol/generated/messages.ts from the message declarations (`npm run gen:protocol`). */
import fs from 'node:fs';
import path from 'node:path';
import { protocolTypesSource } from '../src/protocol/typegen-sources.ts';

const file = path.resolve(import.meta.dirname, '../src/protocol/generated/messages.ts');
fs.mkdirSync(path.dirname(file), { recursive: true });
const tmp = `${file}.tmp`;
fs.writeFileSync(tmp, protocolTypesSource());
fs.renameSync(tmp, file);
console.log(`wrote ${path.relative(process.cwd(), file)}`);
