import { createRequire } from 'node:module';
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { EsperError } from '../../src/errors/index.ts';
import { isBackendName, selectBackend, type BackendName } from '../../src/tensor/backend.ts';
import { rejectionOf } from '../helpers/rejects-with.ts';

function installed(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('selectBackend', () => {
  after(async () => {
    await selectBackend('wasm');
  });

  it('makes wasm the active backend and computes on it', async () => {
    expect(await selectBackend('wasm')).to.equal('wasm');
    expect(tf.getBackend()).to.equal('wasm');
    const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).dataSync()[0]);
    expect(sum).to.equal(6);
  });

  it('defaults to wasm', async () => {
    await selectBackend('cpu');
    expect(await selectBackend()).to.equal('wasm');
  });

  it('is idempotent, also under concurrent calls', async () => {
    await selectBackend('cpu');
    const results = await Promise.all([selectBackend('wasm'), selectBackend('wasm'), selectBackend('wasm')]);
    expect(results).to.deep.equal(['wasm', 'wasm', 'wasm']);
    expect(await selectBackend('wasm')).to.equal('wasm');
  });

  it('falls back to the cpu backend on request', async () => {
    expect(await selectBackend('cpu')).to.equal('cpu');
    expect(tf.getBackend()).to.equal('cpu');
  });

  it('rejects unknown names with ESPER_BACKEND_UNAVAILABLE', async () => {
    const error = await rejectionOf(selectBackend('webgpu' as BackendName));
    expect(error).to.be.instanceOf(EsperError);
    expect((error as EsperError).code).to.equal('ESPER_BACKEND_UNAVAILABLE');
    expect(isBackendName('webgpu')).to.equal(false);
    expect(isBackendName('tensorflow')).to.equal(true);
  });

  it('reports the missing node backend with a coded error naming the install command (injected loader)', async () => {
    const tried: string[] = [];
    const importModule = (specifier: string): Promise<unknown> => {
      tried.push(specifier);
      return Promise.reject(Object.assign(new Error(`Cannot find package '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' }));
    };
    const error = await rejectionOf(selectBackend('tensorflow', { importModule }));
    expect(error).to.be.instanceOf(EsperError);
    const coded = error as EsperError;
    expect(coded.code).to.equal('ESPER_BACKEND_UNAVAILABLE');
    expect(coded.retryable).to.equal(false);
    expect(coded.message).to.include('npm install @tensorflow/tfjs-node');
    expect(coded.message).to.include('npm install @tensorflow/tfjs-node-gpu');
    expect(tried).to.deep.equal(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(coded.details).to.deep.include({ backend: 'tensorflow' });
    expect(coded.details?.['packages']).to.deep.equal({ '@tensorflow/tfjs-node-gpu': 'not installed', '@tensorflow/tfjs-node': 'not installed' });
  });

  it('keeps the previous backend active when the tensorflow backend cannot load', async () => {
    await selectBackend('wasm');
    await rejectionOf(selectBackend('tensorflow', { importModule: () => Promise.reject(new Error('libtensorflow.so: cannot open shared object file')) }));
    expect(tf.getBackend()).to.equal('wasm');
  });

  it('throws ESPER_BACKEND_UNAVAILABLE for tensorflow when neither node package is installed (real import)', async function () {
    if (installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu')) this.skip();
    const error = await rejectionOf(selectBackend('tensorflow'));
    expect(error).to.be.instanceOf(EsperError);
    expect((error as EsperError).code).to.equal('ESPER_BACKEND_UNAVAILABLE');
    expect((error as EsperError).message).to.match(/npm install @tensorflow\/tfjs-node/);
  });
});
