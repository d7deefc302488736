// What pkg/index.js (which runs on pages and in workers) uses beyond the page's lib: the worker
// scope it tests for, and navigator's newer fields (TypeScript's lib has no WebGPU types).
declare var WorkerGlobalScope: { new (): object; prototype: object } | undefined;
interface Navigator {
  readonly deviceMemory?: number;
  readonly gpu?: { requestAdapter(): Promise<any> };
}
