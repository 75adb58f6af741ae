/** Writes docs/configuration.md from the config property tables. */
import fs from 'node:fs';
import path from 'node:path';
import { renderConfigReference } from '../src/config/reference-doc.ts';

const file = path.resolve(import.meta.dirname, '../docs/configuration.md');
fs.writeFileSync(file, renderConfigReference());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
