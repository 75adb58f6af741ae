/** Moved to util/ (the coordinators use it too); kept here for the server's imports. */
export { LogLimiter } from '../util/log-limiter.ts';
