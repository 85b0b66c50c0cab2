'use client';

import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, redirectToLogin } from './api';

export interface Resource<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

interface Loaded<T> {
  key: string | null;
  data: T | null;
  error: ApiError | null;
}

/**
 * GETs `path` (null = wait) and sends the browser to /login when the session is gone. While a new
 * path loads, the previous data stays visible (a search does not blank the list).
 */
export function useApiResource<T>(path: string | null): Resource<T> {
  const [version, setVersion] = useState(0);
  const key = path === null ? null : `${version}:${path}`;
  const [loaded, setLoaded] = useState<Loaded<T>>({ key: null, data: null, error: null });

  useEffect(() => {
    if (path === null) return;
    const controller = new AbortController();
    const requestKey = `${version}:${path}`;
    api<T>(path, { signal: controller.signal })
      .then((data) => setLoaded({ key: requestKey, data, error: null }))
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.isUnauthorized) {
          redirectToLogin();
          return;
        }
        const apiError = error instanceof ApiError ? error : new ApiError(0, 'Something went wrong.');
        setLoaded({ key: requestKey, data: null, error: apiError });
      });
    return () => controller.abort();
  }, [path, version]);

  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return { data: loaded.data, error: loaded.error, loading: key !== null && loaded.key !== key, reload };
}
