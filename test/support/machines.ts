import { setup } from 'xstate';

/**
 * A machine to give `rt.spawn`: `warming` until `warmed`, then `warm`; `crash` throws `message`
 * from an action, which fails the actor.
 */
export function cacheWarmer(message = 'crashed') {
  return setup({
    actions: {
      crash: () => {
        throw new Error(message);
      },
    },
  }).createMachine({
    id: 'cacheWarmer',
    initial: 'warming',
    states: { warming: { on: { warmed: 'warm', crash: { actions: 'crash' } } }, warm: {} },
  });
}
