/**
 * The API registry: for each API key its declaration and its compiled codecs,
 * built lazily once per (API, version, direction) and cached.
 */
import { type ApiSpec, parseVersions } from './schema.ts';
import { type Decoder, type Encoder, compileDecoder, compileEncoder, isFlexible } from './compile.ts';
import { ALL_API_SPECS } from './messages/index.ts';
import { ApiKey, type ApiName } from './generated/messages.ts';

/** One API; `K` (its name) ties it to its generated request and response types. */
export class Api<K extends ApiName = ApiName> {
  readonly key: number;
  readonly name: K;
  readonly minVersion: number;
  readonly maxVersion: number;
  private readonly reqDec: Decoder[] = [];
  private readonly reqEnc: Encoder[] = [];
  private readonly resDec: Decoder[] = [];
  private readonly resEnc: Encoder[] = [];

  constructor(readonly spec: ApiSpec) {
    this.key = spec.request.apiKey;
    this.name = spec.request.name.replace(/Request$/, '') as K;
    const r = parseVersions(spec.request.validVersions);
    this.minVersion = r.min;
    this.maxVersion = r.max;
  }

  supports(version: number): boolean {
    return version >= this.minVersion && version <= this.maxVersion;
  }

  /** Request header v2 / response header v1 are used from the first flexible version. */
  requestIsFlexible(version: number): boolean {
    return isFlexible(this.spec.request, version);
  }

  responseHeaderVersion(version: number): 0 | 1 {
    // ApiVersions responses always use header v0 so that a client can parse
    // them before it knows which versions the broker speaks.
    if (this.key === ApiKey.ApiVersions) return 0;
    return isFlexible(this.spec.response, version) ? 1 : 0;
  }

  requestDecoder(v: number): Decoder {
    return (this.reqDec[v] ??= compileDecoder(this.spec.request, v));
  }

  requestEncoder(v: number): Encoder {
    return (this.reqEnc[v] ??= compileEncoder(this.spec.request, v));
  }

  responseDecoder(v: number): Decoder {
    return (this.resDec[v] ??= compileDecoder(this.spec.response, v));
  }

  responseEncoder(v: number): Encoder {
    return (this.resEnc[v] ??= compileEncoder(this.spec.response, v));
  }
}

const byKey: (Api | undefined)[] = [];
const byName = new Map<string, Api>();
for (const spec of ALL_API_SPECS) {
  const api = new Api(spec);
  if (byKey[api.key]) throw new Error(`API key ${api.key} declared twice`);
  byKey[api.key] = api;
  byName.set(api.name, api);
}

export function apiByKey(key: number): Api | undefined {
  return key >= 0 && key < byKey.length ? byKey[key] : undefined;
}

export function apiByName<K extends ApiName>(name: K): Api<K> {
  const a = byName.get(name);
  if (!a) throw new Error(`unknown API ${name}`);
  return a as Api<K>;
}

export function allApis(): Api[] {
  return byKey.filter((a): a is Api => a !== undefined);
}
