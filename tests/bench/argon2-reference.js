// The reference stack's password hashing alone, for `make bench`: @node-rs/argon2 with
// Gatehouse's argon2id parameters, hashing on one thread for the given number of seconds.
// Prints hashes per second. The reference app's sign-in rate cannot exceed this figure
// (every sign-in is one hash plus the HTTP and database work around it).
const { hashSync } = require('@node-rs/argon2');

const seconds = Number(process.argv[2] || 10);
const options = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
hashSync('warm-up', options);
const start = process.hrtime.bigint();
let hashes = 0;
let elapsed = 0;
while (elapsed < seconds) {
  hashSync(`bench-password-${hashes}`, options);
  hashes += 1;
  elapsed = Number(process.hrtime.bigint() - start) / 1e9;
}
console.log((hashes / elapsed).toFixed(1));
