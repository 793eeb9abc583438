// The sign-in page, shown in place of any page while access control is on and nobody is signed in;
// the address stays, so the page asked for shows once the user is in.

import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ErrorMessage, useAction } from '../components';
import { resetSession } from '../session';
import './pages.css';

export function SignInPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [run, error, busy] = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      try {
        await api.signIn(username, password);
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) throw new Error('Wrong user name or password.');
        throw e;
      }
      resetSession();
    });
  };
  return (
    <section class="sign-in">
      <h1>Sign in</h1>
      <form onSubmit={submit}>
        <label>User name
          <input name="username" autocomplete="username" required value={username}
            onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>Password
          <input name="password" type="password" autocomplete="current-password" required value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button class="primary" type="submit" disabled={busy}>Sign in</button>
        <ErrorMessage error={error} />
      </form>
      <p class="muted">An API token works as the password too.</p>
    </section>
  );
}
