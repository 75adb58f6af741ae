/** The SASL mechanisms Samsa has (each registers itself when imported) and the broker's SASL settings. */
import './plain.ts';
import './scram.ts';
import './oauthbearer-config.ts';

export { checkSaslConfig, saslServerConfig, type SaslServerConfig } from './config.ts';
export { registerSaslMechanism } from './registry.ts';
