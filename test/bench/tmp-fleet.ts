import { benchFleet } from './fleet.js';

const rows = await benchFleet({
  sizes: [Number(process.env.N ?? 10)],
  repeat: 1,
  delay: Number(process.env.D ?? 0),
  log: (l) => console.log(l),
});
for (const r of rows) console.log(JSON.stringify(r));
