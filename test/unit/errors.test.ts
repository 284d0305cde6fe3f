import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CantainerError, errorMessage, isErrorCode } from '../../src/errors.js';
import { KernelError } from '../../src/kernel/errors.js';

describe('error codes', () => {
  it('are one union: a code that is not listed does not compile', () => {
    // @ts-expect-error EBOGUS is no error code: tsc fails this file if the union ever takes any string
    const bogus = new CantainerError('EBOGUS', 'never');
    assert.equal(bogus.code, 'EBOGUS');
    assert.equal(new CantainerError('ENOBUS', 'no bus').code, 'ENOBUS');
  });

  it('carry the errno name of a failed kernel operation', () => {
    assert.equal(KernelError.fromErrno('adding a rule', 17).code, 'EEXIST');
    assert.equal(KernelError.fromErrno('adding a rule', 4095).code, 'E4095');
  });

  it('are told apart from strings a daemon answers', () => {
    assert.equal(isErrorCode('ECONFLICT'), true);
    assert.equal(isErrorCode('ENOENT'), true);
    assert.equal(isErrorCode('E4095'), true);
    assert.equal(isErrorCode('ECONFLICTS'), false);
    assert.equal(isErrorCode(404), false);
  });
});

describe('errorMessage', () => {
  it('is the message of an Error and the text of anything else', () => {
    assert.equal(errorMessage(new Error('broken')), 'broken');
    assert.equal(errorMessage('plain'), 'plain');
    assert.equal(errorMessage(42), '42');
    assert.equal(errorMessage(undefined), 'undefined');
  });
});
