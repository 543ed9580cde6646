import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hubSettingsFromEnv } from '../../src/hub/settings.ts';
import { tempDir } from './helpers.ts';

const NO_TOKEN_FILE = { HF_TOKEN_PATH: '/nonexistent/hubserve/token' };

describe('hubSettingsFromEnv', () => {
  it('defaults as huggingface_hub does', () => {
    assert.deepEqual(hubSettingsFromEnv(NO_TOKEN_FILE), {
      endpoint: 'https://huggingface.co',
      cacheDir: join(homedir(), '.cache', 'huggingface', 'hub'),
      convertedDir: join(homedir(), '.cache', 'huggingface', 'hubserve', 'converted'),
      offline: false,
    });
  });

  it('keeps conversions beside the HF cache, not in it, or in HUBSERVE_CONVERTED_CACHE', () => {
    const converted = (env: Record<string, string>) =>
      hubSettingsFromEnv({ ...NO_TOKEN_FILE, ...env }).convertedDir;
    assert.equal(converted({ HF_HOME: '/hf', HF_HUB_CACHE: '/hub-cache' }), '/hf/hubserve/converted');
    assert.equal(converted({ HUBSERVE_CONVERTED_CACHE: '~/converted' }), join(homedir(), 'converted'));
  });

  it('puts the cache under XDG_CACHE_HOME, HF_HOME or HF_HUB_CACHE, the last winning', () => {
    const cache = (env: Record<string, string>) => hubSettingsFromEnv({ ...NO_TOKEN_FILE, ...env }).cacheDir;
    assert.equal(cache({ XDG_CACHE_HOME: '/xdg' }), '/xdg/huggingface/hub');
    assert.equal(cache({ XDG_CACHE_HOME: '/xdg', HF_HOME: '/hf' }), '/hf/hub');
    assert.equal(cache({ HF_HOME: '/hf', HF_HUB_CACHE: '/hub-cache' }), '/hub-cache');
    assert.equal(cache({ HF_HUB_CACHE: '~/models' }), join(homedir(), 'models'));
    assert.equal(cache({ HF_HOME: '' }), join(homedir(), '.cache', 'huggingface', 'hub'));
  });

  it('takes HF_ENDPOINT without its trailing slash', () => {
    const settings = hubSettingsFromEnv({ ...NO_TOKEN_FILE, HF_ENDPOINT: 'http://127.0.0.1:9/' });
    assert.equal(settings.endpoint, 'http://127.0.0.1:9');
  });

  it('takes the token from HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the file `hf auth login` writes', () => {
    const home = tempDir();
    writeFileSync(join(home, 'token'), 'hf_from_file\n');
    assert.equal(hubSettingsFromEnv({ HF_HOME: home }).token, 'hf_from_file');
    assert.equal(hubSettingsFromEnv({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: 'hf_old' }).token, 'hf_old');
    assert.equal(
      hubSettingsFromEnv({ HF_HOME: home, HUGGING_FACE_HUB_TOKEN: 'hf_old', HF_TOKEN: 'hf_new' }).token,
      'hf_new',
    );
    assert.equal(hubSettingsFromEnv({ HF_HOME: join(home, 'elsewhere') }).token, undefined);
  });

  it('is offline when HF_HUB_OFFLINE is truthy', () => {
    for (const value of ['1', 'true', 'TRUE', 'yes', 'on']) {
      assert.equal(hubSettingsFromEnv({ ...NO_TOKEN_FILE, HF_HUB_OFFLINE: value }).offline, true, value);
    }
    for (const value of ['0', 'false', 'no', 'off', '']) {
      assert.equal(hubSettingsFromEnv({ ...NO_TOKEN_FILE, HF_HUB_OFFLINE: value }).offline, false, value);
    }
  });
});
