/**
 * The SASL mechanisms a broker can enable, by name. A mechanism's file
 * registers a factory here when it is imported (index.ts imports the
 * built-in ones); the SASL handlers build each enabled mechanism once per
 * broker with the context below.
 */
import type { Logger } from 'pino';
import type { JaasEntry } from './jaas.ts';
import type { SaslServerMechanism } from './mechanism.ts';
import type { ScramCredentialStore } from './scram.ts';

/** What a mechanism may read: the JAAS entry and properties of a listener, and the stored SCRAM credentials. */
export interface SaslMechanismContext {
  /**
   * The JAAS entry a listener gives this mechanism: the first set of
   * listener.name.<l>.<mech>.sasl.jaas.config, <mech>.sasl.jaas.config,
   * listener.name.<l>.sasl.jaas.config, sasl.jaas.config (mech in lower case); null when none.
   */
  jaas(listenerName: string, mechanism: string): JaasEntry | null;
  /** A broker property as a listener and mechanism see it (the same order of prefixes), as text; undefined when unset. */
  property(listenerName: string, mechanism: string, name: string): string | undefined;
  /** The SCRAM credentials of the cluster (the metadata image). */
  scramCredentials: ScramCredentialStore;
  logger: Logger;
}

export type SaslMechanismFactory = (ctx: SaslMechanismContext) => SaslServerMechanism;

const factories = new Map<string, SaslMechanismFactory>();

/** Makes mechanism `name` (as SaslHandshake carries it, e.g. 'OAUTHBEARER') available to sasl.enabled.mechanisms. */
export function registerSaslMechanism(name: string, factory: SaslMechanismFactory): void {
  factories.set(name, factory);
}

export function saslMechanismFactory(name: string): SaslMechanismFactory | undefined {
  return factories.get(name);
}

/** The names of the registered mechanisms, for error messages. */
export function registeredSaslMechanisms(): string[] {
  return [...factories.keys()].sort();
}
