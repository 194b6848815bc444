import { main } from './main.js';

// Exit at once: proxmox-api leaves its request timer running after a failed request, which
// would otherwise keep a stopped daemon alive for up to api_timeout. Output is written
// synchronously to files and pipes on Linux, so nothing is lost.
process.exit(await main(process.argv.slice(2)));
