// Transaction: what commit does with objects another writer stored meanwhile
// (the repo lock is shared, so two pulls may fetch the same object), and
// that detached metadata still replaces the stored copy.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Variant, encode } from '../../../shared/gvariant/index.js';
import { checksumOf, encodeDirmeta, type Checksum } from '../../../shared/objects/index.js';
import { Repo, Transaction } from '../../../shared/repo/index.js';
import { makeTmpDir } from '../../helpers/tmp.js';

describe('Transaction.commit', () => {
  it('keeps an object that another writer stored meanwhile (its inode, so checkouts keep sharing it); detached metadata replaces', async () => {
    const repo = await Repo.create(join(makeTmpDir(), 'repo'), 'archive');
    const dirmeta = encodeDirmeta({ uid: 0, gid: 0, mode: 0o40755, xattrs: [] });
    const csum = checksumOf(dirmeta) as Checksum;
    const commitCsum = 'ab'.repeat(32) as Checksum;
    const meta1 = encode('a{sv}', []);
    // A first version of the commit's detached metadata, already stored.
    const first = await Transaction.begin(repo);
    await first.writeMetadata('commitmeta', meta1, commitCsum);
    await first.commit();

    const tx = await Transaction.begin(repo);
    expect(tx.hasObjectSync(csum, 'dirmeta')).toBe(false); // lists objects/XX now
    await tx.writeMetadata('dirmeta', dirmeta, csum);
    // Another writer stores the same object before this transaction commits.
    mkdirSync(dirname(repo.objectPath(csum, 'dirmeta')), { recursive: true });
    writeFileSync(repo.objectPath(csum, 'dirmeta'), dirmeta);
    const theirs = statSync(repo.objectPath(csum, 'dirmeta')).ino;
    const meta2 = encode('a{sv}', [['x', new Variant('s', 'new')]]);
    await tx.writeMetadata('commitmeta', meta2, commitCsum);
    await tx.commit();

    expect(statSync(repo.objectPath(csum, 'dirmeta')).ino).toBe(theirs);
    expect(new Uint8Array(readFileSync(repo.objectPath(commitCsum, 'commitmeta')))).toEqual(meta2);
    expect(readFileSync(repo.objectPath(csum, 'dirmeta'))).toEqual(Buffer.from(dirmeta));
  });
});
