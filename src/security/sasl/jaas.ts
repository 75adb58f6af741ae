/**
 * Kafka's JAAS configuration text (`sasl.jaas.config`):
 *
 *   org.apache.kafka.common.security.plain.PlainLoginModule required
 *     username="admin" password="admin-secret" user_alice="alice-secret";
 *
 * One login module: its class name, a control flag (required, requisite,
 * sufficient, optional), options as name=value where the value is a
 * double-quoted string (backslash escapes the next character) or a bare
 * word, and a closing ';'. Errors never repeat option values (they are
 * passwords).
 */

export interface JaasEntry {
  loginModule: string;
  controlFlag: 'required' | 'requisite' | 'sufficient' | 'optional';
  options: Map<string, string>;
}

export class JaasError extends Error {
  override name = 'JaasError';
}

const FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);

/** Parses one `sasl.jaas.config` value; throws JaasError (without any option value in its message). */
export function parseJaasConfig(text: string): JaasEntry {
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(text[i])) i++;
  };
  const word = (): string => {
    const start = i;
    while (i < n && /[^\s=;"]/.test(text[i])) i++;
    return text.slice(start, i);
  };
  skipSpace();
  const loginModule = word();
  if (loginModule === '') throw new JaasError('expected a login module class name');
  skipSpace();
  const flag = word();
  if (!FLAGS.has(flag))
    throw new JaasError(`expected a control flag (required, requisite, sufficient, optional) after ${loginModule}`);
  const options = new Map<string, string>();
  for (;;) {
    skipSpace();
    if (i >= n) throw new JaasError("missing ';' at the end of the login module entry");
    if (text[i] === ';') {
      i++;
      break;
    }
    const name = word();
    if (name === '') throw new JaasError(`unexpected character at position ${i}`);
    skipSpace();
    if (text[i] !== '=') throw new JaasError(`expected '=' after option ${name}`);
    i++;
    skipSpace();
    let value: string;
    if (text[i] === '"') {
      i++;
      let v = '';
      for (;;) {
        if (i >= n) throw new JaasError(`unterminated quoted value of option ${name}`);
        const c = text[i++];
        if (c === '"') break;
        if (c === '\\' && i < n) v += text[i++];
        else v += c;
      }
      value = v;
    } else {
      value = word();
      if (value === '') throw new JaasError(`missing value of option ${name}`);
    }
    if (options.has(name)) throw new JaasError(`option ${name} is given twice`);
    options.set(name, value);
  }
  skipSpace();
  if (i < n) throw new JaasError('only one login module may be given in sasl.jaas.config');
  return { loginModule, controlFlag: flag as JaasEntry['controlFlag'], options };
}

/** The users of a PlainLoginModule entry: `user_<name>="<password>"` options. */
export function plainUsers(entry: JaasEntry): Map<string, string> {
  const users = new Map<string, string>();
  for (const [k, v] of entry.options) if (k.startsWith('user_') && k.length > 5) users.set(k.slice(5), v);
  return users;
}
