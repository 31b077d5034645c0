export * from './channels';
export * from './errors';
export * from './schemas';
export { buildApi } from './api';
export { parseRequest, parseResponse, parseResult } from './validate';
export { createClient } from './client';
export * from './datasets';
export * from './runs';
