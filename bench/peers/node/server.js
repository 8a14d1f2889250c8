'use strict';
// Node.js reference peer for the benchmark: the notification service written
// with socket.io 4.8 at its defaults, the implementation notify-wss replaces.
//
// Environment (same as notify-wss):
//   REDIS_URL   redis://127.0.0.1:6379
//   JWT_SECRET  HS256 secret of the clients' tokens
//   PORT, HOST  where to listen (default 3000, 0.0.0.0)
//   LOG_LEVEL   "debug" logs connections; anything else stays quiet
//
// Contract:
//   auth:     CONNECT payload {token}: an HS256 JWT with userId, displayName,
//             optional channelId, exp. Bad or missing → CONNECT_ERROR
//             {"message":"Authentication failed"}.
//   connect:  joins `user-notifications:{userId}`, emits "connected".
//   events:   join-/leave-global-notifications, join-/leave-channel-notifications
//             <channelId>, join-/leave-user-notifications <own userId>; an ack
//             callback, if the client asked for one, gets {room}.
//   redis:    notifications:all → room global-notifications;
//             user:notifications:{id} → user-notifications:{id};
//             channel:notifications:{id} → channel-notifications:{id};
//             each message is emitted as "notification" with JSON.parse(message).
//   http:     GET /health → {status, timestamp, connectedClients, totalSockets, rooms}.

const http = require('node:http');
const crypto = require('node:crypto');
const { Server } = require('socket.io');
const { createClient } = require('redis');

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const JWT_SECRET = process.env.JWT_SECRET || '';
const PORT = parseInt(process.env.PORT || '3000', 10);
const HOST = process.env.HOST || '0.0.0.0';
const DEBUG = process.env.LOG_LEVEL === 'debug';

if (!JWT_SECRET) {
  console.error('JWT_SECRET is required');
  process.exit(1);
}

const GLOBAL_ROOM = 'global-notifications';
const userRoom = (id) => `user-notifications:${id}`;
const channelRoom = (id) => `channel-notifications:${id}`;

// verifyJWT checks an HS256 compact JWT with node:crypto and returns its
// claims, or throws.
function verifyJWT(token) {
  if (typeof token !== 'string') throw new Error('no token');
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('malformed token');
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
  if (header.alg !== 'HS256') throw new Error('unexpected alg');
  const want = crypto.createHmac('sha256', JWT_SECRET).update(`${parts[0]}.${parts[1]}`).digest();
  const got = Buffer.from(parts[2], 'base64url');
  if (got.length !== want.length || !crypto.timingSafeEqual(got, want)) throw new Error('bad signature');
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now()) throw new Error('token expired');
  if (typeof claims.userId !== 'string' || claims.userId === '') throw new Error('no userId');
  return claims;
}

const httpServer = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    const body = JSON.stringify({
      status: 'ok',
      timestamp: new Date().toISOString(),
      connectedClients: io.engine.clientsCount,
      totalSockets: io.of('/').sockets.size,
      rooms: io.of('/').adapter.rooms.size,
      uptime: process.uptime(),
      memory: process.memoryUsage().rss,
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found');
});

const io = new Server(httpServer); // socket.io defaults throughout

io.use((socket, next) => {
  try {
    socket.data.user = verifyJWT(socket.handshake.auth && socket.handshake.auth.token);
    next();
  } catch (e) {
    if (DEBUG) console.log(`auth rejected: ${e.message}`);
    next(new Error('Authentication failed'));
  }
});

// reply calls the client's ack callback, if it asked for one.
function reply(ack, value) {
  if (typeof ack === 'function') ack(value);
}

io.on('connection', (socket) => {
  const user = socket.data.user;
  socket.join(userRoom(user.userId));
  if (DEBUG) console.log(`connected ${socket.id} user=${user.userId}`);
  socket.emit('connected', {
    message: 'Connected to notification server',
    userId: user.userId,
    socketId: socket.id,
  });

  socket.on('join-global-notifications', (ack) => {
    socket.join(GLOBAL_ROOM);
    reply(ack, { room: GLOBAL_ROOM });
  });
  socket.on('leave-global-notifications', (ack) => {
    socket.leave(GLOBAL_ROOM);
    reply(ack, { room: GLOBAL_ROOM });
  });
  socket.on('join-channel-notifications', (channelId, ack) => {
    if (typeof channelId !== 'string' || channelId === '') return reply(ack, { error: 'invalid channelId' });
    socket.join(channelRoom(channelId));
    reply(ack, { room: channelRoom(channelId) });
  });
  socket.on('leave-channel-notifications', (channelId, ack) => {
    if (typeof channelId !== 'string' || channelId === '') return reply(ack, { error: 'invalid channelId' });
    socket.leave(channelRoom(channelId));
    reply(ack, { room: channelRoom(channelId) });
  });
  socket.on('join-user-notifications', (userId, ack) => {
    if (userId !== user.userId) return reply(ack, { error: 'forbidden' });
    socket.join(userRoom(userId));
    reply(ack, { room: userRoom(userId) });
  });
  socket.on('leave-user-notifications', (userId, ack) => {
    if (userId !== user.userId) return reply(ack, { error: 'forbidden' });
    socket.leave(userRoom(userId));
    reply(ack, { room: userRoom(userId) });
  });
  if (DEBUG) socket.on('disconnect', (reason) => console.log(`disconnected ${socket.id}: ${reason}`));
});

// emitParsed relays one Redis message to a room; bad JSON is dropped.
function emitParsed(room, message) {
  let payload;
  try {
    payload = JSON.parse(message);
  } catch (e) {
    if (DEBUG) console.log(`dropping non-JSON message for ${room}`);
    return;
  }
  io.to(room).emit('notification', payload);
}

async function main() {
  const sub = createClient({ url: REDIS_URL });
  sub.on('error', (e) => console.error(`redis: ${e.message}`));
  await sub.connect();
  await sub.subscribe('notifications:all', (message) => emitParsed(GLOBAL_ROOM, message));
  await sub.pSubscribe('user:notifications:*', (message, channel) =>
    emitParsed(userRoom(channel.slice('user:notifications:'.length)), message));
  await sub.pSubscribe('channel:notifications:*', (message, channel) =>
    emitParsed(channelRoom(channel.slice('channel:notifications:'.length)), message));

  httpServer.listen(PORT, HOST, () => {
    if (DEBUG) console.log(`listening on ${HOST}:${PORT}`);
  });

  const shutdown = () => {
    io.close(() => process.exit(0));
    sub.quit().catch(() => {});
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
