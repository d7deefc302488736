// The hand-written declarations (pkg/index.d.ts, pkg/client.d.ts) held against the code. The
// code's own types (inferred from the JS and its JSDoc) come from a copy of pkg/*.js without
// the .d.ts beside it (check.mjs makes it in impl/): TypeScript resolves `./index.js` to
// `./index.d.ts` where both are, so the declarations would otherwise be compared with
// themselves. Checked, per module and per class:
// - the same exported names, and the same method names (a method renamed, added or dropped on
//   one side only fails);
// - the code assignable to the declaration: it takes what the declaration says it takes and
//   gives what it says it gives (where the code's types say: what is `any` in the JS passes).
// Errors name what differs: a name in 'never' is missing on one side.

import * as decl from 'glimpse-ml';
import * as declClient from 'glimpse-ml/client';
import * as impl from './impl/index.js';
import * as implClient from './impl/client.js';

/** Fails to compile, naming `T`, unless `T` is never. */
declare function none<T extends never>(): void;
declare function of<T>(): T;

type MethodKeys<T> = { [K in keyof T]-?: T[K] extends (...args: any[]) => any ? K : never }[keyof T];

// ---- glimpse-ml (index.js) ----

// Exported by the declarations, not by the code; then the other way.
none<Exclude<keyof typeof decl, keyof typeof impl>>();
none<Exclude<keyof typeof impl, keyof typeof decl>>();
// Every function and constant as the declarations type it (the class below).
const _index: Omit<typeof decl, 'Model'> = impl;

type ImplModel = InstanceType<typeof impl.Model>;
// Model's members declared, not in the code; then the code's methods not declared.
none<Exclude<keyof decl.Model, keyof ImplModel>>();
none<Exclude<MethodKeys<ImplModel>, keyof decl.Model>>();
const _model: decl.Model = of<ImplModel>();

// ---- glimpse-ml/client (client.js, its methods made from ops.js's table) ----

none<Exclude<keyof typeof declClient, keyof typeof implClient>>();
none<Exclude<keyof typeof implClient, keyof typeof declClient>>();
const _client: Pick<typeof declClient, 'createWorker'> = implClient;

type ImplWorker = InstanceType<typeof implClient.GlimpseWorker>;
none<Exclude<keyof declClient.GlimpseWorker, keyof ImplWorker>>();
// (`call` is the code's own: what the methods send their messages with.)
none<Exclude<MethodKeys<ImplWorker>, keyof declClient.GlimpseWorker | 'call'>>();
const _worker: declClient.GlimpseWorker = of<ImplWorker>();
const _workerClass: new (...args: ConstructorParameters<typeof declClient.GlimpseWorker>) => declClient.GlimpseWorker =
  implClient.GlimpseWorker;

type ImplRemote = InstanceType<typeof implClient.RemoteModel>;
none<Exclude<keyof declClient.RemoteModel, keyof ImplRemote>>();
none<Exclude<MethodKeys<ImplRemote>, keyof declClient.RemoteModel>>();
const _remote: declClient.RemoteModel = of<ImplRemote>();

export { _index, _model, _client, _worker, _workerClass, _remote };
