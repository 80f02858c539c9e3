import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { AccordError, type ErrorCode } from '../errors/index.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

let ajv: Ajv2020 | undefined;

function instance(): Ajv2020 {
  ajv ??= addFormats(new Ajv2020({ allErrors: false, strict: true, useDefaults: false }));
  return ajv;
}

/** A compiled JSON Schema check that throws an AccordError naming the first offending field. */
export interface Validator<T> {
  (value: unknown): T;
  readonly schema: object;
}

function describe(error: ErrorObject): { path: string; message: string } {
  const base = error.instancePath === '' ? '/' : error.instancePath;
  if (error.keyword === 'additionalProperties') {
    const extra = String((error.params as { additionalProperty?: unknown }).additionalProperty);
    return { path: `${error.instancePath}/${extra}`, message: `unknown field '${extra}'` };
  }
  if (error.keyword === 'required') {
    const missing = String((error.params as { missingProperty?: unknown }).missingProperty);
    return { path: `${error.instancePath}/${missing}`, message: `missing field '${missing}'` };
  }
  return { path: base, message: error.message ?? 'is invalid' };
}

/** Compiles a schema lazily (on first use) into a validator raising `code` on bad input. */
export function createValidator<T>(schema: object, code: ErrorCode, what: string): Validator<T> {
  let compiled: ValidateFunction | undefined;
  const validate = (value: unknown): T => {
    compiled ??= instance().compile(schema);
    if (!compiled(value)) {
      const first = compiled.errors?.[0];
      const { path, message } = first ? describe(first) : { path: '/', message: 'is invalid' };
      throw new AccordError(code, `${what} ${path}: ${message}`, { path });
    }
    return value as T;
  };
  return Object.assign(validate, { schema });
}
